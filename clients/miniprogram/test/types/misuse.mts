// Mistakes the declarations must catch; test/unit/types.test.mjs expects one error on each line
// with an "error:" comment, and none elsewhere.
import { createClient } from 'wxauth-miniprogram';
import type { ScanStatus } from 'wxauth-miniprogram';

createClient({ clientId: 'mp' }); // error: baseUrl missing
createClient({ baseUrl: 'https://a', clientId: 'mp', clockSkewMs: '60' }); // error: not a number
const client = createClient({ baseUrl: 'https://a', clientId: 'mp' });
client.decrypt({ encryptedData: 'e' }); // error: iv missing
client.phoneNumber(42); // error: code is a string
const token: number = await client.getAccessToken(); // error: a string
client.getTokens().accessToken; // error: possibly null
client.scan.inspect({ scene: 'abc' }); // error: the scene itself, a string
client.scan.approve(); // error: scene missing
const pending: ScanStatus = 'pending'; // error: never an answer of /wechat/scan
client.scan = client.scan; // error: read-only
void [token, pending];
