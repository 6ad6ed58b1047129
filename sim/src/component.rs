//! The components the simulator plays, named the same way by the state, its faults and its
//! control API.

/// The components the simulator plays; in 8.8 Zeebe, web-apps and exporting share one port.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SimComponent {
    Zeebe,
    Exporting,
    Operate,
    Tasklist,
    /// 8.8 `backupHistory`.
    Webapps,
    Optimize,
    Elasticsearch,
}

impl SimComponent {
    /// Snapshot name prefix of a web-apps component (§5.1, §5.2) or Optimize (§6).
    pub fn snapshot_prefix(self) -> &'static str {
        match self {
            SimComponent::Operate => "camunda_operate_",
            SimComponent::Tasklist => "camunda_tasklist_",
            SimComponent::Webapps => "camunda_webapps_",
            SimComponent::Optimize => "camunda_optimize_",
            _ => "",
        }
    }
}
