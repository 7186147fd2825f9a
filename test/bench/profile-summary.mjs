// Self time by function (and by module) of a V8 .cpuprofile: `node test/bench/profile-summary.mjs FILE [top]`.
import { readFileSync } from 'node:fs';

const profile = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const top = Number(process.argv[3] ?? 25);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]);
  self.set(node, (self.get(node) ?? 0) + (dt[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const module = (url) =>
  url.includes('node_modules/')
    ? url
        .slice(url.lastIndexOf('node_modules/') + 13)
        .split('/')
        .slice(0, url.includes('/@') ? 2 : 1)
        .join('/')
    : url.replace(/^.*\/(shared|test|functions)\//, '$1/') || '(native)';
const add = (map, key, t) => map.set(key, (map.get(key) ?? 0) + t);
const fns = new Map();
const mods = new Map();
for (const [node, t] of self) {
  const { functionName, url, lineNumber } = node.callFrame;
  add(fns, `${functionName || '(anonymous)'} ${module(url)}:${lineNumber + 1}`, t);
  add(mods, module(url), t);
}
const show = (title, map) => {
  console.log(`\n${title}`);
  for (const [k, t] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${((100 * t) / total).toFixed(1).padStart(5)} %  ${k}`);
};
show('self time by module', mods);
show('self time by function', fns);
