//! The OpenID provider discovery document as the generic upstream (`oidc.rs`) caches it:
//! openidconnect's `CoreProviderMetadata` plus the fields it does not model.

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::AdditionalProviderMetadata;

/// Discovery fields openidconnect does not model, kept with the cached metadata.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ExtraProviderMetadata {
    /// RFC 9207 §3. Only a JSON `true` counts; any other value (or none) means "not advertised"
    /// and never fails discovery.
    #[serde(default, deserialize_with = "only_true")]
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 8414 §2 (OIDC discovery does not define it, so openidconnect drops it). Kept so
    /// `check-config` can warn when a provider lists PKCE methods without S256. A value that
    /// is not a list of strings counts as absent rather than failing discovery.
    #[serde(
        default,
        deserialize_with = "string_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub code_challenge_methods_supported: Option<Vec<String>>,
}

impl AdditionalProviderMetadata for ExtraProviderMetadata {}

fn only_true<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    use serde::Deserialize as _;
    Ok(serde_json::Value::deserialize(d)? == serde_json::Value::Bool(true))
}

fn string_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    use serde::Deserialize as _;
    Ok(Vec::<String>::deserialize(serde_json::Value::deserialize(d)?).ok())
}

/// `CoreProviderMetadata` plus [`ExtraProviderMetadata`].
pub type ProviderMetadata = openidconnect::ProviderMetadata<
    ExtraProviderMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;
