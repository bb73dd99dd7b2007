'use strict';
// wxauth-miniprogram: the mini-program client of wxauth (README.md).

const { createClient } = require('./client');
const { WxAuthError, codes } = require('./errors');

module.exports = { createClient, WxAuthError, errorCodes: codes };
