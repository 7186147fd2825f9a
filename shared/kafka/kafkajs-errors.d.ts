/** kafkajs's table of Kafka protocol error codes (it ships no types for this module). */
declare module 'kafkajs/src/protocol/error.js' {
  const protocolErrors: {
    errorCodes: { type: string; code: number; retriable: boolean; message: string }[];
  };
  export default protocolErrors;
}
