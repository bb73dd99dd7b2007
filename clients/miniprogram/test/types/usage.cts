// The CommonJS entry, as require('wxauth-miniprogram') in a mini program's page.
import sdk = require('wxauth-miniprogram');

declare const wx: sdk.WxLike;
const client: sdk.WxAuthClient = sdk.createClient({ baseUrl: 'https://auth.example.com', clientId: 'mp', wx });
const error = new sdk.WxAuthError('network_error', 'offline');
const code: sdk.ErrorCode = error.error;
const scan: Promise<sdk.ScanTicket> = client.scan.inspect('abc');
const answered: sdk.ScanStatus = 'approved';
void [client, code, scan, answered];
