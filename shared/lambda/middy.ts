/**
 * middy and the Powertools logger middleware, re-exported so functions reach them through shared/: the
 * bundler leaves shared/ to the layer, so a function never ships (and never initialises) a second copy.
 */
export { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
export { default as middy } from '@middy/core';
