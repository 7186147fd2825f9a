import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, ServerlessChecks } from 'cdk-nag';
import { buildApp } from './stacks/esante-app.ts';
import { acknowledgeFindings } from './stacks/nag.ts';

/** `npx cdk synth` entry (cdk.json `app`): the five stacks, checked by cdk-nag's three packs on synth. */
const app = new App();
const stacks = buildApp(app);
acknowledgeFindings(stacks);
Validations.of(app).addPlugins(
  new AwsSolutionsChecks(app),
  new HIPAASecurityChecks(app),
  new ServerlessChecks(app),
);
app.synth();
