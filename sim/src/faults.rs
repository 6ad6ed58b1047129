//! Fault injection: "the next N calls of this component's operation fail this way" (contract §10).

use serde::{Deserialize, Serialize};

use super::component::SimComponent;

/// The operations a fault can target. `Any` matches every call of the component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// POST a backup (or PUT an ES snapshot).
    Take,
    /// GET one backup (or one snapshot, or its `_status`).
    Get,
    List,
    Delete,
    Pause,
    Resume,
    Partitions,
    Rebalance,
    Health,
    Any,
}

/// What happens to a matched call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FaultAction {
    /// Answer with this status and the component's own error body. For exporting this is the
    /// status *inside* the HTTP 200 envelope (§4.1).
    Status {
        status: u16,
        #[serde(default)]
        message: Option<String>,
    },
    /// Hold the request (for `Timings::hang_ms`) so the caller's timeout fires.
    Hang,
    /// Drop the connection without a complete answer.
    Drop,
    /// Answer 200 with a body that is not valid JSON.
    Malformed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    pub component: SimComponent,
    #[serde(default = "any_operation")]
    pub operation: Operation,
    /// How many matching calls fail; omitted means every call until cleared.
    #[serde(default)]
    pub count: Option<u32>,
    pub action: FaultAction,
}

fn any_operation() -> Operation {
    Operation::Any
}

#[derive(Debug, Default)]
pub struct FaultBook {
    rules: Vec<FaultRule>,
    /// How many calls each fault has affected, for tests that assert a fault was hit.
    pub fired: u64,
}

impl FaultBook {
    pub fn add(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// The action for this call, if a rule matches; consumes one of the rule's count.
    pub fn take(&mut self, component: SimComponent, operation: Operation) -> Option<FaultAction> {
        let index = self.rules.iter().position(|r| {
            r.component == component
                && (r.operation == Operation::Any || r.operation == operation)
                && r.count != Some(0)
        })?;
        let rule = &mut self.rules[index];
        let action = rule.action.clone();
        if let Some(n) = rule.count.as_mut() {
            *n -= 1;
            if *n == 0 {
                self.rules.remove(index);
            }
        }
        self.fired += 1;
        Some(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_rule_fires_that_many_times_then_goes() {
        let mut book = FaultBook::default();
        book.add(FaultRule {
            component: SimComponent::Zeebe,
            operation: Operation::Take,
            count: Some(2),
            action: FaultAction::Status {
                status: 502,
                message: None,
            },
        });
        assert_eq!(book.take(SimComponent::Zeebe, Operation::Get), None);
        assert_eq!(book.take(SimComponent::Optimize, Operation::Take), None);
        assert!(book.take(SimComponent::Zeebe, Operation::Take).is_some());
        assert!(book.take(SimComponent::Zeebe, Operation::Take).is_some());
        assert_eq!(book.take(SimComponent::Zeebe, Operation::Take), None);
        assert!(book.rules().is_empty());
        assert_eq!(book.fired, 2);
    }

    #[test]
    fn an_uncounted_any_rule_matches_every_call_until_cleared() {
        let mut book = FaultBook::default();
        book.add(FaultRule {
            component: SimComponent::Elasticsearch,
            operation: Operation::Any,
            count: None,
            action: FaultAction::Drop,
        });
        for op in [Operation::List, Operation::Delete, Operation::Health] {
            assert_eq!(
                book.take(SimComponent::Elasticsearch, op),
                Some(FaultAction::Drop)
            );
        }
        book.clear();
        assert_eq!(
            book.take(SimComponent::Elasticsearch, Operation::List),
            None
        );
    }
}
