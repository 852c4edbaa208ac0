//! What the workspace holds, as `cargo metadata` reports it: package names, their binaries
//! and the target directory. Commands use this to tell "not written yet" from "broken".

use std::path::{Path, PathBuf};

use crate::cmd::{Result, cargo};
use crate::json::Json;

/// One workspace member.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    /// The package name (`admit-conformance`).
    pub name: String,
    /// The names of its binary targets.
    pub bins: Vec<String>,
}

/// The workspace members and where they build.
#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    /// Every member package.
    pub packages: Vec<Package>,
    /// Cargo's target directory (honours `CARGO_TARGET_DIR`).
    pub target_directory: PathBuf,
}

impl Workspace {
    /// Runs `cargo metadata --no-deps` in `root` and reads its answer.
    ///
    /// # Errors
    ///
    /// Cargo fails (a member's manifest does not parse) or prints something unexpected.
    pub fn load(root: &Path) -> Result<Workspace> {
        let stdout = cargo(root)
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .read()?;
        Ok(Workspace::parse(&stdout)?)
    }

    /// Reads the JSON printed by `cargo metadata --format-version 1`.
    ///
    /// # Errors
    ///
    /// The text is not JSON or lacks `packages` / `target_directory`.
    pub fn parse(metadata: &str) -> std::result::Result<Workspace, String> {
        let doc = Json::parse(metadata).map_err(|e| format!("cargo metadata: {e}"))?;
        let target_directory = doc
            .get("target_directory")
            .and_then(Json::as_str)
            .ok_or("cargo metadata: no target_directory")?
            .into();
        let packages = doc
            .get("packages")
            .and_then(Json::as_array)
            .ok_or("cargo metadata: no packages")?
            .iter()
            .filter_map(|package| {
                let name = package.get("name")?.as_str()?.to_owned();
                let targets = package
                    .get("targets")
                    .and_then(Json::as_array)
                    .unwrap_or(&[]);
                let bins = targets
                    .iter()
                    .filter(|t| {
                        let kinds = t.get("kind").and_then(Json::as_array).unwrap_or(&[]);
                        kinds.iter().any(|k| k.as_str() == Some("bin"))
                    })
                    .filter_map(|t| Some(t.get("name")?.as_str()?.to_owned()))
                    .collect();
                Some(Package { name, bins })
            })
            .collect();
        Ok(Workspace {
            packages,
            target_directory,
        })
    }

    /// The member called `name`, if there is one.
    pub fn package(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name)
    }
}

/// Cargo's target directory without asking cargo: `CARGO_TARGET_DIR`, else `root/target`.
///
/// Used for the side directories (`target/loom`, `target/miri`) that keep special builds
/// from invalidating the normal cache.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_packages_and_binaries() {
        let metadata = r#"{
            "packages": [
                {"name": "admit", "targets": [{"name": "admit", "kind": ["lib"]}]},
                {"name": "admit-conformance", "targets": [
                    {"name": "admit_conformance", "kind": ["lib"]},
                    {"name": "admit-conformance", "kind": ["bin"]}
                ]}
            ],
            "workspace_members": [],
            "target_directory": "/w/target",
            "version": 1
        }"#;
        let workspace = Workspace::parse(metadata).unwrap();
        assert_eq!(workspace.target_directory, PathBuf::from("/w/target"));
        assert_eq!(
            workspace.package("admit").unwrap().bins,
            Vec::<String>::new()
        );
        assert_eq!(
            workspace.package("admit-conformance").unwrap().bins,
            vec!["admit-conformance".to_owned()]
        );
        assert!(workspace.package("admit-tokio").is_none());
        assert!(Workspace::parse("{}").is_err());
    }
}
