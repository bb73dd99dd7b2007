// How a mini program (or a bundler-based framework) uses the SDK through the ES module entry;
// type-checked by test/unit/types.test.mjs. Never run.
import wxauth, { createClient, WxAuthError, errorCodes } from 'wxauth-miniprogram';
import type { ClientOptions, Tokens, WxLike, DecryptResult, PhoneNumber, LogoutResult, ScanRequester, ScanStatus, ScanTicket } from 'wxauth-miniprogram';

declare const wx: WxLike;

const options: ClientOptions = { baseUrl: 'https://auth.example.com', clientId: 'my-miniprogram', scope: 'openid phone', wx };
const client = createClient(options);
const same = wxauth.createClient({ baseUrl: 'https://auth.example.com', clientId: 'x', wx, now: () => 0 });

async function page(): Promise<void> {
  const tokens: Tokens = await client.login();
  const openid: string | null = tokens.openid;
  const token: string = await client.getAccessToken();
  const res = await client.request<{ sub: string }>({ url: '/userinfo', method: 'GET' });
  const sub: string = res.data.sub;
  const status: number = res.statusCode;
  const data: DecryptResult<{ nickName: string }> = await client.decrypt({ encryptedData: 'e', iv: 'i', rawData: '{}', signature: 's' });
  const nick: string = data.data.nickName;
  const authenticated: boolean = data.authenticated;
  const phone: PhoneNumber = await client.phoneNumber('code');
  const ticket: ScanTicket = await client.scan.inspect('0123456789abcdef0123456789abcdef');
  const site: string = ticket.client_name;
  const scopes: string[] = ticket.scopes;
  const left: number = ticket.expires_in;
  const asking: ScanRequester = ticket.requested_from ?? {};
  const where: string | undefined = asking.ip ?? asking.browser ?? asking.os;
  const sameNetwork: boolean | undefined = asking.same_network;
  const answered: ScanStatus = (await client.scan.approve(decodeURIComponent('abc'))).status;
  if ((await client.scan.deny('abc')).status === 'denied') void answered;
  const out: LogoutResult = await same.logout();
  const t: Tokens | null = client.getTokens();
  try {
    await client.request({ url: '/api', method: 'POST', data: { a: 1 }, header: { 'x-trace': '1' } });
  } catch (e) {
    if (e instanceof WxAuthError && e.error === errorCodes.SESSION_KEY_RENEWED) {
      const why: string = e.description;
      const s: number = e.status;
      const wait: number | null = e.retryAfter;
      void [why, s, wait];
    }
  }
  void [openid, token, sub, status, nick, authenticated, phone, site, scopes, left, where, sameNetwork, out, t];
}
void page;
