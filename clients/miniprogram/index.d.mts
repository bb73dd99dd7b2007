// Types of the ES module entry (index.mjs): the same as the CommonJS entry's (index.d.ts).
import sdk = require('./index.js');

export * from './index.js';
export default sdk;
