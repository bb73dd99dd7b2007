//! [`App`]: configuration plus every client and cache a request needs, built once per cold start
//! and shared by every request the container serves.

use crate::config::Config;
use crate::keys::data_key::DataKey;
use crate::keys::registry::KeyRing;
use crate::keys::signer::Signer;
use crate::queue::LogoutQueue;
use crate::store::Store;
use crate::store::client_cache::ClientCache;
use crate::wechat::api::WechatClient;
use crate::wechat::secrets::AppSecrets;
use crate::wechat::server_token::ServerTokens;

/// Configuration plus every client and cache a request needs.
#[derive(Debug)]
pub struct App {
    pub config: Config,
    pub store: Store,
    pub keys: KeyRing,
    pub signer: Signer,
    pub data_key: DataKey,
    pub clients: ClientCache,
    pub wechat: WechatClient,
    pub app_secrets: AppSecrets,
    pub server_tokens: ServerTokens,
    pub logout_queue: LogoutQueue,
}

/// The AWS services' clients an [`App`] uses.
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub kms: aws_sdk_kms::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl App {
    /// The app as a Lambda container builds it: environment variables and the SDK's defaults.
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = Config::from_env()?;
        let sdk = crate::aws::sdk_config(config.aws_timeouts).await;
        Self::new(config, &sdk)
    }

    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        let clients = AwsClients {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
        };
        Self::from_clients(config, clients)
    }

    /// With clients configured by the caller (tests point them at an outage, for instance).
    pub fn from_clients(config: Config, clients: AwsClients) -> anyhow::Result<Self> {
        let AwsClients { dynamodb, kms, sqs } = clients;
        let store = Store::new(dynamodb, config.table.clone());
        Ok(Self {
            keys: KeyRing::new(store.clone(), config.key_cache_ttl),
            signer: Signer::new(kms.clone(), config.table.clone()),
            data_key: DataKey::with_bounds(kms, config.kms_data_key_id.clone(), config.data_key_bounds),
            clients: ClientCache::new(config.client_cache_ttl),
            wechat: WechatClient::new(config.wechat_api_base.clone(), config.wechat_timeout)?,
            app_secrets: AppSecrets::default(),
            server_tokens: ServerTokens::default(),
            logout_queue: LogoutQueue::new(sqs, config.backchannel_logout_queue_url.clone()),
            store,
            config,
        })
    }
}
