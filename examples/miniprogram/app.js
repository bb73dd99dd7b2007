// One wxauth client for the whole mini program: pages reach it through getApp().auth, so that
// its single login and single refresh cover every page.
const { createClient } = require('wxauth-miniprogram');
const config = require('./config.js');

App({
  auth: createClient({ baseUrl: config.baseUrl, clientId: config.clientId }),

  onLaunch() {
    // Tokens come back from storage; a first start (or an expired refresh token) logs in.
    this.ready = this.auth.getAccessToken().catch((e) => {
      console.warn('wxauth: not signed in yet', e.error, e.description);
    });
  },
});
