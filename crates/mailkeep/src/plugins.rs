//! The plugin registry: which plugins exist, and both sides of those that
//! `[plugins] enabled` names. The only place that links every plugin; the
//! base crates see them through `mailkeep-plugin-api` (protocol side) and
//! `mailkeep_storage_server::plugin` (storage side).

use std::sync::Arc;

use anyhow::{Context, bail};
use mailkeep_config::Plugins;
use mailkeep_plugin_api::{ProtocolPlugin, ProtocolPlugins};
use mailkeep_storage_server::plugin::StoragePlugin;

/// Every plugin this binary has.
pub const KNOWN: &[&str] = &[mailkeep_quota_storage::NAME];

/// Checks that every enabled plugin exists and its settings read.
pub fn check(section: &Plugins) -> anyhow::Result<()> {
    storage(section)?;
    protocol(section)?;
    Ok(())
}

/// The storage sides of the enabled plugins.
pub fn storage(section: &Plugins) -> anyhow::Result<mailkeep_storage_server::plugin::Plugins> {
    let mut list: Vec<Arc<dyn StoragePlugin>> = Vec::new();
    for name in &section.enabled {
        let table = section.settings_of(name);
        match name.as_str() {
            mailkeep_quota_storage::NAME => {
                let settings = mailkeep_quota_storage::QuotaSettings::from_table(&table)
                    .context("quota plugin")?;
                list.push(Arc::new(mailkeep_quota_storage::QuotaPlugin::new(
                    &settings,
                )));
            }
            other => bail!("[plugins] enabled: unknown plugin {other:?} (known: {KNOWN:?})"),
        }
    }
    Ok(mailkeep_storage_server::plugin::Plugins::new(list))
}

/// The protocol sides of the enabled plugins.
pub fn protocol(section: &Plugins) -> anyhow::Result<ProtocolPlugins> {
    let mut list: Vec<Arc<dyn ProtocolPlugin>> = Vec::new();
    for name in &section.enabled {
        let table = section.settings_of(name);
        match name.as_str() {
            mailkeep_quota_protocol::NAME => {
                let settings = mailkeep_quota_protocol::QuotaProtocolSettings::from_table(&table)
                    .context("quota plugin")?;
                list.push(Arc::new(mailkeep_quota_protocol::QuotaProtocol::new(
                    settings,
                )));
            }
            other => bail!("[plugins] enabled: unknown plugin {other:?} (known: {KNOWN:?})"),
        }
    }
    Ok(ProtocolPlugins::new(list))
}
