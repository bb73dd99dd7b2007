// Where wxauth runs and which client this mini program is. The local stack (scripts/dev) serves
// http://127.0.0.1:3000 with the demo client `demo-miniprogram`; the developer tools reach it with
// "Does not verify valid domain names" on (project.config.json: urlCheck false). A real mini
// program names its https domain here and in the admin console's request domains.
module.exports = {
  baseUrl: 'http://127.0.0.1:3000',
  clientId: 'demo-miniprogram',
};
