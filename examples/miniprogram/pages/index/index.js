// Signs in (restored from storage, refreshed, or wx.login() — the SDK decides), calls an API
// with the access token (/userinfo), and shows the WeChat data helpers: the phone-number button
// and WeRun steps through /wechat/decrypt.
const { WxAuthError } = require('wxauth-miniprogram');

const app = getApp();

function describe(e) {
  if (e instanceof WxAuthError) return e.error + (e.description ? ': ' + e.description : '');
  return String((e && e.errMsg) || e);
}

// wx.getWeRunData as a promise.
function weRunData() {
  return new Promise((resolve, reject) => wx.getWeRunData({ success: resolve, fail: reject }));
}

Page({
  data: { status: 'signing in…', user: null, phone: '', steps: null, error: '' },

  onLoad() {
    return this.loadUser();
  },

  async loadUser() {
    try {
      const res = await app.auth.request({ url: '/userinfo' });
      this.setData({ status: 'signed in', user: res.data, phone: res.data.phone_number || '', error: '' });
    } catch (e) {
      this.setData({ status: 'not signed in', error: describe(e) });
    }
  },

  // <button open-type="getPhoneNumber">: WeChat asks the user, then hands over a one-time code.
  async onGetPhoneNumber(e) {
    if (!e.detail.code) {
      this.setData({ error: 'no phone number: ' + e.detail.errMsg });
      return;
    }
    try {
      const phone = await app.auth.phoneNumber(e.detail.code);
      this.setData({ phone: phone.phone_number, error: '' });
    } catch (err) {
      this.setData({ error: describe(err) });
    }
  },

  async onWeRun() {
    try {
      let result;
      try {
        result = await app.auth.decrypt(await weRunData());
      } catch (e) {
        // The session key was stale and the SDK logged in again: the data we had was encrypted
        // under the old key, so ask WeChat for it once more.
        if (!(e instanceof WxAuthError) || e.error !== 'session_key_renewed') throw e;
        result = await app.auth.decrypt(await weRunData());
      }
      const days = result.data.stepInfoList || [];
      // WeRun data is not signed (result.authenticated is false): it is the user's claim.
      this.setData({ steps: days.length ? days[days.length - 1].step : 0, error: '' });
    } catch (e) {
      this.setData({ error: describe(e) });
    }
  },

  async onLogout() {
    const out = await app.auth.logout();
    this.setData({
      status: out.revoked ? 'signed out' : 'signed out on this phone (the server was not reached)',
      user: null,
      phone: '',
      steps: null,
    });
  },

  onSignIn() {
    return app.auth.login().then(() => this.loadUser(), (e) => this.setData({ error: describe(e) }));
  },
});
