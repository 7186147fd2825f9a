import { AssetHashType, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { layerBundler, SHARED_DIR } from './bundle.ts';

/**
 * The producer layer: shared/ bundled with its dependencies for Node 24 on arm64, mounted at
 * /opt/nodejs/node_modules/@esante/bus. Producers and the functions import it; function bundles leave it out.
 */
export class BusLayer extends Construct {
  readonly layer: lambda.LayerVersion;

  constructor(scope: Construct, id: string, props: { retain: boolean }) {
    super(scope, id);
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      description: 'esante event bus: catalog, envelope, Kafka client config, producer, DLQ, retry',
      compatibleRuntimes: [lambda.Runtime.NODEJS_24_X],
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      code: lambda.Code.fromAsset(SHARED_DIR, {
        assetHashType: AssetHashType.OUTPUT,
        bundling: { image: lambda.Runtime.NODEJS_24_X.bundlingImage, local: layerBundler },
      }),
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
  }
}
