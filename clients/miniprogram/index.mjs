// The ES module entry: the CommonJS build re-exported, so both entries share one implementation.
import sdk from './src/index.js';

export const createClient = sdk.createClient;
export const WxAuthError = sdk.WxAuthError;
export const errorCodes = sdk.errorCodes;
export default sdk;
