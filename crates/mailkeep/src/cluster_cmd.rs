//! `mailkeep cluster`: set up the files of a cluster of hosts (CA, each
//! host's gateway certificate and ticket key pair, the trusted-host list).

use std::path::Path;

use crate::cli::ClusterAction;

pub fn run(dir: &Path, action: ClusterAction) -> anyhow::Result<()> {
    match action {
        ClusterAction::Init => {
            mailkeep_master::cluster_setup::init(dir)?;
            println!(
                "Cluster made in {}: CA (ca.pem; keep ca.key safe), empty trusted-hosts.\n\
                 Add each host with `mailkeep cluster add-host NAME --address IP:PORT`.",
                dir.display()
            );
        }
        ClusterAction::AddHost { name, address } => {
            let files = mailkeep_master::cluster_setup::add_host(dir, &name, &address)?;
            println!(
                "Host {name} added: its files are in {}.\n\
                 Copy them to {name} with ca.pem and trusted-hosts, merge {} into its\n\
                 configuration, and give every host the new trusted-hosts and the\n\
                 [cluster.hosts] lines of hosts.toml (then restart them).",
                files.dir.display(),
                files.config.display()
            );
        }
    }
    Ok(())
}
