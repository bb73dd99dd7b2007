// Scan to sign in on a computer: a desktop's sign-in page shows this mini program's code, and
// scanning it opens this page with the code's ticket as `options.scene`. The page binds the code
// to the user (scan.inspect), asks them to confirm, then answers (scan.approve / scan.deny); the
// computer then signs in, or shows that it was refused.
const { WxAuthError } = require('wxauth-miniprogram');

const app = getApp();

// What each scope gives the website, in the user's words; other scopes by their name.
const SCOPES = {
  openid: '你的账号标识',
  profile: '昵称和头像',
  phone: '手机号',
  offline_access: '保持登录',
};

function describeScopes(scopes) {
  return (scopes || []).map((name) => ({ name, label: SCOPES[name] || name }));
}

// The computer asking ("Windows 上的 Chrome · 203.0.113.*"): a code relayed from someone else's
// screen names a browser or an address that is not the user's own.
function describeRequester(from) {
  const r = from || {};
  const browser = r.browser && r.os ? r.os + ' 上的 ' + r.browser : r.browser || r.os || '未知的浏览器';
  return r.ip ? browser + ' · ' + r.ip : browser;
}

// The message for a failure, and whether trying the same step again can help (every step is
// idempotent for the same user, so a retry is always safe).
function failure(e) {
  if (!(e instanceof WxAuthError)) return { message: '出错了：' + String((e && e.errMsg) || e), canRetry: true };
  switch (e.error) {
    case 'invalid_grant':
      // Expired, answered already, or never one of ours.
      return { message: '二维码已过期，请在电脑上刷新', canRetry: false };
    case 'invalid_request':
      if (/another user/i.test(e.description)) return { message: '该二维码已被其他微信用户扫描', canRetry: false };
      return { message: '无法使用这个二维码，请在电脑上刷新后重新扫码', canRetry: false };
    case 'invalid_argument':
      // No scene, or not one a sign-in code carries.
      return { message: '这不是登录二维码，请在电脑上扫描登录页的二维码', canRetry: false };
    case 'access_denied':
    case 'insufficient_scope':
    case 'unauthorized_client':
      return { message: '这个小程序不能用于该网站的扫码登录', canRetry: false };
    case 'network_error':
      return { message: '网络不可用，请检查网络后重试', canRetry: true };
    case 'temporarily_unavailable':
      return { message: '服务繁忙，请稍后重试', canRetry: true };
    case 'wx_login_failed':
    case 'invalid_token':
      return { message: '微信登录失败，请重试', canRetry: true };
    default:
      return { message: '出错了：' + e.error + (e.description ? '（' + e.description + '）' : ''), canRetry: true };
  }
}

Page({
  // state: loading → confirm → approved | denied, or error (with a retry when it can help).
  data: {
    state: 'loading',
    clientName: '',
    scopes: [],
    requester: '',
    otherNetwork: false,
    busy: '',
    message: '',
    canRetry: false,
  },

  onLoad(options) {
    // URL-encoded by WeChat; the SDK decodes it.
    this.scene = (options && options.scene) || '';
    return this.run('inspect');
  },

  onApprove() {
    return this.run('approve');
  },

  onDeny() {
    return this.run('deny');
  },

  onRetry() {
    return this.run(this.lastAction || 'inspect');
  },

  async run(action) {
    if (this.data.busy) return;
    this.lastAction = action;
    this.setData({ busy: action, message: '', canRetry: false });
    try {
      const ticket = await app.auth.scan[action](this.scene);
      this.show(ticket);
    } catch (e) {
      const f = failure(e);
      this.setData({ state: 'error', busy: '', message: f.message, canRetry: f.canRetry });
    }
  },

  show(ticket) {
    if (ticket.status === 'approved') {
      this.setData({ state: 'approved', busy: '' });
    } else if (ticket.status === 'denied') {
      this.setData({ state: 'denied', busy: '' });
    } else {
      this.setData({
        state: 'confirm',
        busy: '',
        clientName: ticket.client_name,
        scopes: describeScopes(ticket.scopes),
        requester: describeRequester(ticket.requested_from),
        // Only a definite "no": unknown says nothing.
        otherNetwork: Boolean(ticket.requested_from) && ticket.requested_from.same_network === false,
      });
    }
  },
});
