//! WeChat mini program open data: decryption, rawData signatures and the checksession signature.
//!
//! WeChat gives the server a per-user `session_key` (16 random bytes, base64) at login. Open data
//! (`wx.getUserInfo`, `getPhoneNumber`, …) reaches the server as `encryptedData` and `iv`: AES-128-CBC
//! with key = base64-decode(session_key), iv = base64-decode(iv), PKCS#7 padding. The plaintext is a
//! JSON object carrying a `watermark` `{"appid", "timestamp"}`. Plain `rawData` comes with
//! `signature = hex(sha1(rawData + session_key))`. `wxa/checksession` takes
//! `hex(HMAC-SHA256(key = session_key as its base64 text, message = ""))`.
//!
//! CBC has no integrity check, so a wrong or superseded session key (a newer `wx.login` replaces it)
//! still "decrypts", to noise. Only the checks made here tell noise from data: padding is strict
//! (every padding byte must equal the count), the plaintext must be a JSON object, and
//! `watermark.appid` must be our appid. WxJava and wechatpy strip padding loosely and hand back
//! garbage for a stale key; WxJava and EasyWeChat never compare the appid, so data encrypted for
//! another app would be accepted. Every error that a wrong key produces answers `is_stale_key()`;
//! callers should give all of them one outward response (no padding oracle) and ask the user to log
//! in again. No error message contains key material or plaintext.

use aes::Aes128;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::{NoPadding, Pkcs7};
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const BLOCK: usize = 16;

/// Why data could not be decrypted or trusted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("{field} is not valid base64")]
    BadBase64 { field: &'static str },
    #[error("session key decodes to {0} bytes, not 16")]
    BadKeyLength(usize),
    #[error("iv decodes to {0} bytes, not 16")]
    BadIvLength(usize),
    #[error("encrypted data is {0} bytes, not a positive multiple of 16")]
    BadCiphertextLength(usize),
    #[error("decrypted data has bad padding")]
    BadPadding,
    #[error("decrypted data is not a JSON object")]
    NotJson,
    #[error("decrypted data has no watermark appid")]
    NoWatermark,
    #[error("decrypted data is watermarked for another appid")]
    WrongAppid,
    #[error("rawData signature does not match")]
    BadSignature,
}

impl CryptoError {
    /// Whether this is what decrypting with a wrong or superseded session key produces.
    pub fn is_stale_key(&self) -> bool {
        matches!(self, Self::BadPadding | Self::NotJson | Self::NoWatermark | Self::WrongAppid)
    }
}

fn b64(field: &'static str, s: &str) -> Result<Vec<u8>, CryptoError> {
    STANDARD.decode(s).map_err(|_| CryptoError::BadBase64 { field })
}

fn key_iv(session_key: &str, iv: &str) -> Result<([u8; 16], [u8; 16]), CryptoError> {
    let key = b64("session_key", session_key)?;
    let key: [u8; 16] = key.as_slice().try_into().map_err(|_| CryptoError::BadKeyLength(key.len()))?;
    let iv = b64("iv", iv)?;
    let iv: [u8; 16] = iv.as_slice().try_into().map_err(|_| CryptoError::BadIvLength(iv.len()))?;
    Ok((key, iv))
}

/// Strict PKCS#7: last byte n in 1..=16 and all last n bytes equal n (checked without early exit).
fn unpad(mut data: Vec<u8>) -> Result<Vec<u8>, CryptoError> {
    let n = *data.last().ok_or(CryptoError::BadPadding)?;
    let len = usize::from(n);
    if len == 0 || len > BLOCK || len > data.len() {
        return Err(CryptoError::BadPadding);
    }
    let diff = data[data.len() - len..].iter().fold(0u8, |acc, &b| acc | (b ^ n));
    if diff != 0 {
        return Err(CryptoError::BadPadding);
    }
    data.truncate(data.len() - len);
    Ok(data)
}

/// Decrypts `encrypted_data` (base64) with `session_key` (base64, as WeChat gives it) and `iv`
/// (base64), checks strict PKCS#7, parses the JSON object, checks `watermark.appid == appid`.
/// Returns the JSON object (watermark included).
pub fn decrypt(
    session_key: &str,
    encrypted_data: &str,
    iv: &str,
    appid: &str,
) -> Result<serde_json::Value, CryptoError> {
    let (key, iv) = key_iv(session_key, iv)?;
    let data = b64("encrypted_data", encrypted_data)?;
    if data.is_empty() || data.len() % BLOCK != 0 {
        return Err(CryptoError::BadCiphertextLength(data.len()));
    }
    let plain = cbc::Decryptor::<Aes128>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<NoPadding>(&data)
        .map_err(|_| CryptoError::BadCiphertextLength(data.len()))?;
    let plain = unpad(plain)?;
    let value: serde_json::Value = serde_json::from_slice(&plain).map_err(|_| CryptoError::NotJson)?;
    if !value.is_object() {
        return Err(CryptoError::NotJson);
    }
    match value["watermark"]["appid"].as_str() {
        None => Err(CryptoError::NoWatermark),
        Some(a) if a != appid => Err(CryptoError::WrongAppid),
        Some(_) => Ok(value),
    }
}

/// The reverse of [`decrypt`], for tests and the mock: AES-128-CBC + PKCS#7, base64 out.
pub fn encrypt(session_key: &str, plaintext: &[u8], iv: &str) -> Result<String, CryptoError> {
    let (key, iv) = key_iv(session_key, iv)?;
    let data = cbc::Encryptor::<Aes128>::new(&key.into(), &iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext);
    Ok(STANDARD.encode(data))
}

/// rawData signature check: `signature` (hex, either case) == sha1(raw_data + session_key),
/// compared in constant time.
pub fn verify_raw_data(raw_data: &str, session_key: &str, signature: &str) -> Result<(), CryptoError> {
    let mut h = Sha1::new();
    h.update(raw_data.as_bytes());
    h.update(session_key.as_bytes());
    let expected = hex(&h.finalize());
    let given = signature.to_ascii_lowercase();
    if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) { Ok(()) } else { Err(CryptoError::BadSignature) }
}

/// `hex(HMAC-SHA256(key = session_key text, msg))`: WeChat's "user login state signature".
fn login_state_signature(session_key: &str, msg: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(session_key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(msg);
    hex(&mac.finalize().into_bytes())
}

/// The `signature` parameter of `wxa/checksession`:
/// `hex(HMAC-SHA256(key = session_key.as_bytes(), msg = b""))`.
pub fn checksession_signature(session_key: &str) -> String {
    login_state_signature(session_key, b"")
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]]).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // WeChat's official WXBizDataCrypt demo sample, as in wechatpy's tests/test_crypto.py
    // (test_wxa_decrypt_message) and many copies of the demo.
    const APPID: &str = "wx4f4bc4dec97d474b";
    const KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
    const IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";
    const DATA: &str = concat!(
        "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC",
        "+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2",
        "/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz",
        "/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E",
        "/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns",
        "/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG",
        "20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==",
    );

    fn watermarked(extra: serde_json::Value) -> Vec<u8> {
        let mut v = extra;
        v["watermark"] = json!({"appid": APPID, "timestamp": 1_700_000_000});
        serde_json::to_vec(&v).expect("json")
    }

    /// AES-128-CBC without padding: lets a test choose the exact final block.
    fn encrypt_raw(blocks: &[u8]) -> String {
        let (key, iv) = key_iv(KEY, IV).expect("key");
        let ct = cbc::Encryptor::<Aes128>::new(&key.into(), &iv.into()).encrypt_padded_vec_mut::<NoPadding>(blocks);
        STANDARD.encode(ct)
    }

    fn b64_of(n: usize) -> String {
        STANDARD.encode(vec![7u8; n])
    }

    #[test]
    fn what_is_encrypted_decrypts_back() {
        let plain = watermarked(json!({"openId": "o1", "nickName": "测试"}));
        let data = encrypt(KEY, &plain, IV).expect("encrypt");
        let value = decrypt(KEY, &data, IV, APPID).expect("decrypt");
        assert_eq!(value["openId"], "o1");
        assert_eq!(value["nickName"], "测试");
        assert_eq!(serde_json::to_vec(&value).expect("json"), plain);
    }

    #[test]
    fn the_official_sample_decrypts_with_its_watermark() {
        let value = decrypt(KEY, DATA, IV, APPID).expect("sample");
        assert_eq!(value["watermark"]["appid"], APPID);
        assert_eq!(value["watermark"]["timestamp"], 1_477_314_187);
        assert_eq!(value["openId"], "oGZUI0egBJY1zhBYw2KhdUfwVJJE");
        assert_eq!(value["unionId"], "ocMvos6NjeKLIBqg5Mr9QjxrP1FA");
        assert_eq!(value["nickName"], "Band");
    }

    #[test]
    fn the_official_sample_is_refused_for_another_appid() {
        assert_eq!(decrypt(KEY, DATA, IV, "wx0000000000000000"), Err(CryptoError::WrongAppid));
    }

    #[test]
    fn bad_base64_names_its_field() {
        let bad = |field| Err(CryptoError::BadBase64 { field });
        assert_eq!(decrypt("not base64!", DATA, IV, APPID), bad("session_key"));
        assert_eq!(decrypt(KEY, DATA, "r7BX*", APPID), bad("iv"));
        assert_eq!(decrypt(KEY, "%%%%", IV, APPID), bad("encrypted_data"));
        assert_eq!(encrypt(KEY, b"x", "r7BX*"), Err(CryptoError::BadBase64 { field: "iv" }));
    }

    #[test]
    fn a_plus_mangled_into_a_space_is_not_repaired() {
        let mangled = DATA.replace('+', " ");
        assert_eq!(decrypt(KEY, &mangled, IV, APPID), Err(CryptoError::BadBase64 { field: "encrypted_data" }));
    }

    #[test]
    fn a_session_key_must_be_16_bytes() {
        assert_eq!(decrypt(&b64_of(15), DATA, IV, APPID), Err(CryptoError::BadKeyLength(15)));
        assert_eq!(decrypt(&b64_of(24), DATA, IV, APPID), Err(CryptoError::BadKeyLength(24)));
        assert_eq!(encrypt(&b64_of(24), b"x", IV), Err(CryptoError::BadKeyLength(24)));
    }

    #[test]
    fn an_iv_must_be_16_bytes() {
        assert_eq!(decrypt(KEY, DATA, &b64_of(8), APPID), Err(CryptoError::BadIvLength(8)));
    }

    #[test]
    fn ciphertext_must_be_whole_blocks() {
        assert_eq!(decrypt(KEY, &b64_of(17), IV, APPID), Err(CryptoError::BadCiphertextLength(17)));
        assert_eq!(decrypt(KEY, "", IV, APPID), Err(CryptoError::BadCiphertextLength(0)));
    }

    #[test]
    fn a_last_byte_of_zero_is_bad_padding() {
        let mut block = *b"{\"a\":1}         ";
        block[15] = 0;
        assert_eq!(decrypt(KEY, &encrypt_raw(&block), IV, APPID), Err(CryptoError::BadPadding));
    }

    #[test]
    fn a_last_byte_above_16_is_bad_padding() {
        let mut block = [b' '; 32];
        block[31] = 17;
        assert_eq!(decrypt(KEY, &encrypt_raw(&block), IV, APPID), Err(CryptoError::BadPadding));
    }

    #[test]
    fn padding_bytes_that_disagree_are_bad_padding() {
        // Ends 3,4,4,4: claims 4 bytes of padding but one of them is 3. Loose unpadding would
        // just drop 4 bytes and carry on.
        let block = *b"{\"a\":1}     \x03\x04\x04\x04";
        assert_eq!(decrypt(KEY, &encrypt_raw(&block), IV, APPID), Err(CryptoError::BadPadding));
    }

    #[test]
    fn plaintext_that_is_not_json_is_refused() {
        let data = encrypt(KEY, b"hello, not json", IV).expect("encrypt");
        assert_eq!(decrypt(KEY, &data, IV, APPID), Err(CryptoError::NotJson));
        let data = encrypt(KEY, &[0xff, 0xfe, 0x00], IV).expect("encrypt");
        assert_eq!(decrypt(KEY, &data, IV, APPID), Err(CryptoError::NotJson));
    }

    #[test]
    fn a_json_array_is_not_an_object() {
        let plain = serde_json::to_vec(&json!([{"watermark": {"appid": APPID}}])).expect("json");
        let data = encrypt(KEY, &plain, IV).expect("encrypt");
        assert_eq!(decrypt(KEY, &data, IV, APPID), Err(CryptoError::NotJson));
    }

    #[test]
    fn an_object_without_watermark_appid_is_refused() {
        for plain in
            [json!({"openId": "o1"}), json!({"watermark": {"timestamp": 1}}), json!({"watermark": {"appid": 42}})]
        {
            let data = encrypt(KEY, &serde_json::to_vec(&plain).expect("json"), IV).expect("encrypt");
            assert_eq!(decrypt(KEY, &data, IV, APPID), Err(CryptoError::NoWatermark));
        }
    }

    #[test]
    fn a_stale_key_never_yields_data() {
        use sha2::Digest as _;
        for counter in 0u32..200 {
            let key = STANDARD.encode(&Sha256::digest(counter.to_le_bytes())[..16]);
            assert_ne!(key, KEY);
            let err = decrypt(&key, DATA, IV, APPID).expect_err("a wrong key must not decrypt");
            assert!(err.is_stale_key(), "key #{counter} gave {err:?}");
        }
    }

    #[test]
    fn only_decryption_outcomes_count_as_a_stale_key() {
        assert!(CryptoError::BadPadding.is_stale_key());
        assert!(CryptoError::NotJson.is_stale_key());
        assert!(CryptoError::NoWatermark.is_stale_key());
        assert!(CryptoError::WrongAppid.is_stale_key());
        assert!(!CryptoError::BadBase64 { field: "iv" }.is_stale_key());
        assert!(!CryptoError::BadKeyLength(15).is_stale_key());
        assert!(!CryptoError::BadIvLength(8).is_stale_key());
        assert!(!CryptoError::BadCiphertextLength(17).is_stale_key());
        assert!(!CryptoError::BadSignature.is_stale_key());
    }

    #[test]
    fn error_messages_carry_no_secrets() {
        let err = decrypt(&b64_of(15), DATA, IV, APPID).expect_err("short key");
        let msg = err.to_string();
        assert!(!msg.contains(&b64_of(15)) && !msg.contains(DATA));
        assert_eq!(msg, "session key decodes to 15 bytes, not 16");
    }

    // The example in WeChat's "开放数据校验与解密" docs.
    const RAW: &str = r#"{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}"#;
    const RAW_KEY: &str = "HyVFkGl5F5OQWJZZaNzBBg==";
    const RAW_SIG: &str = "75e81ceda165f4ffa64f4068af58c64b8f54b88c";

    #[test]
    fn the_documented_raw_data_signature_verifies() {
        assert_eq!(verify_raw_data(RAW, RAW_KEY, RAW_SIG), Ok(()));
    }

    #[test]
    fn an_uppercase_raw_data_signature_verifies() {
        assert_eq!(verify_raw_data(RAW, RAW_KEY, &RAW_SIG.to_ascii_uppercase()), Ok(()));
    }

    #[test]
    fn a_wrong_raw_data_signature_is_refused() {
        let bad = Err(CryptoError::BadSignature);
        assert_eq!(verify_raw_data(RAW, KEY, RAW_SIG), bad);
        assert_eq!(verify_raw_data(&RAW.replace("Band", "Bond"), RAW_KEY, RAW_SIG), bad);
        assert_eq!(verify_raw_data(RAW, RAW_KEY, &RAW_SIG[..39]), bad);
        assert_eq!(verify_raw_data(RAW, RAW_KEY, ""), bad);
    }

    #[test]
    fn the_checksession_signature_is_hmac_of_nothing_under_the_key_text() {
        // python3: hmac.new(b'tiihtNczf5v6AKRyjwEUhQ==', b'', hashlib.sha256).hexdigest()
        assert_eq!(checksession_signature(KEY), "7154f9f8b4b76b92f541cbf0e37d48840fa06e5e42da92a6f80168a1516a4735");
    }

    #[test]
    fn the_documented_login_state_signature_matches() {
        // WeChat's "用户登录态签名" docs: hmac_sha256('{"foo":"bar"}', 'o0q0otL8aEzpcZL/FT9WsQ==').
        assert_eq!(
            login_state_signature("o0q0otL8aEzpcZL/FT9WsQ==", br#"{"foo":"bar"}"#),
            "654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b"
        );
    }
}
