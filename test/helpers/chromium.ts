import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import chromium from '@sparticuz/chromium';
import puppeteer, { type Browser } from 'puppeteer-core';

/**
 * A headless Chromium for the browser tests, from the project's own install: `@sparticuz/chromium` ships a
 * Chromium build inside its npm package (Linux x64; unpacked to the temp dir on first use), so a fresh
 * clone needs no download outside the npm registry. Elsewhere (another OS or architecture) Debian's
 * `chromium` is the fallback: used when installed, installed with apt-get when the user may, otherwise the
 * error says what to install. Own launch flags, not the package's Lambda set (which turns web security off).
 */
const SYSTEM_CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

const systemChromium = (): string => {
  const found = SYSTEM_CHROMIUM.find((p) => existsSync(p));
  if (found) return found;
  const apt = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const installed = SYSTEM_CHROMIUM.find((p) => existsSync(p));
  if (apt.status === 0 && installed) return installed;
  throw new Error(
    "No Chromium for the browser tests: @sparticuz/chromium ships one for Linux x64 only, and Debian's " +
      '`chromium` is not installed (`sudo apt-get install chromium`, or set CHROMIUM_PATH to a Chromium binary).',
  );
};

export const chromiumPath = async (): Promise<string> => {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  if (process.platform === 'linux' && process.arch === 'x64') {
    const path = await chromium.executablePath();
    // The packaged build needs a few shared libraries most Linux systems have; check it starts at all.
    try {
      execFileSync(path, ['--version'], { stdio: 'ignore', timeout: 20_000 });
      return path;
    } catch {
      // fall through to the system's
    }
  }
  return systemChromium();
};

export const launchBrowser = async (): Promise<Browser> =>
  puppeteer.launch({
    executablePath: await chromiumPath(),
    headless: 'shell',
    // A C/POSIX locale would make navigator.language "en-US@posix", which Intl (and so uPlot) rejects.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--font-render-hinting=none', '--lang=en-US'],
    env: { ...process.env, LANG: 'en_US.UTF-8', LANGUAGE: 'en_US' },
    defaultViewport: { width: 1280, height: 900 },
  });
