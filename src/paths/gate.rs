//! What stands between holding an edge's tail and holding its head, and the path classes
//! those gates put a path in (privilege-paths §A.7).

use std::fmt;

/// An approval gate: someone else has to approve the activation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Approval {
    /// The approvers the policy names, sorted (empty: the policy names none, so the
    /// service's defaults approve). Not traversal edges: attributes for rules (PIM807).
    pub approvers: Vec<String>,
}

/// The gates of one edge, from the group policy of the role it activates (member or owner).
/// An edge that needs no action has none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gates {
    pub approval: Option<Approval>,
    /// `require: [mfa]` on activation.
    pub mfa: bool,
    /// `authentication_context` on activation: a Conditional Access policy decides.
    pub auth_context: Option<String>,
    /// Information only: a reason is asked for, not checked.
    pub justification: bool,
    /// Information only: a ticket number is asked for, "not checked against any ticketing
    /// system".
    pub ticket: bool,
}

impl Gates {
    /// No gate at all.
    pub fn none() -> Self {
        Gates::default()
    }

    /// Whether the step needs a second factor (MFA, or an authentication context).
    pub fn needs_mfa(&self) -> bool {
        self.mfa || self.auth_context.is_some()
    }
}

/// The class of an edge or a path, best (most dangerous) first. The classes nest: a path of
/// class `c` is counted in every class after `c`, so `reach(t, NoApproval)` holds the
/// standing and the no-approval-no-mfa principals too, and `Approval` means "any path".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathClass {
    /// Every edge is in effect without any action: the principal holds the target now.
    Standing,
    /// Some action is needed (an activation, adding a member, granting a role, resetting a
    /// password), but no approval, MFA or authentication context.
    NoApprovalNoMfa,
    /// No approval gate; MFA or an authentication context may be required.
    NoApproval,
    /// At least one approval gate; as a filter: every path.
    Approval,
}

impl PathClass {
    /// Every class, best first.
    pub const ALL: [PathClass; 4] = [
        PathClass::Standing,
        PathClass::NoApprovalNoMfa,
        PathClass::NoApproval,
        PathClass::Approval,
    ];

    /// The name used in output and in `--class`.
    pub fn name(self) -> &'static str {
        match self {
            PathClass::Standing => "standing",
            PathClass::NoApprovalNoMfa => "no-approval-no-mfa",
            PathClass::NoApproval => "no-approval",
            PathClass::Approval => "approval",
        }
    }

    /// The class of this name (`any` is the same filter as `approval`).
    pub fn parse(name: &str) -> Option<PathClass> {
        match name {
            "any" => Some(PathClass::Approval),
            _ => PathClass::ALL.into_iter().find(|c| c.name() == name),
        }
    }

    /// The class of a step with these gates. `action`: the step needs someone to do
    /// something (activate, add a member, grant a role, reset a password): such a step is
    /// never standing, even without any gate.
    pub fn of(gates: &Gates, action: bool) -> PathClass {
        if gates.approval.is_some() {
            PathClass::Approval
        } else if gates.needs_mfa() {
            PathClass::NoApproval
        } else if action || gates.justification || gates.ticket {
            PathClass::NoApprovalNoMfa
        } else {
            PathClass::Standing
        }
    }

    /// The class of a path whose steps have these classes: its weakest step's (a path of no
    /// steps is standing).
    pub fn of_path(steps: impl IntoIterator<Item = PathClass>) -> PathClass {
        steps.into_iter().max().unwrap_or(PathClass::Standing)
    }
}

impl fmt::Display for PathClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_is_never_standing() {
        assert_eq!(PathClass::of(&Gates::none(), false), PathClass::Standing);
        assert_eq!(
            PathClass::of(&Gates::none(), true),
            PathClass::NoApprovalNoMfa
        );
    }

    #[test]
    fn approval_outranks_mfa_and_mfa_outranks_justification() {
        let mut g = Gates {
            justification: true,
            ticket: true,
            ..Gates::none()
        };
        assert_eq!(PathClass::of(&g, true), PathClass::NoApprovalNoMfa);
        g.auth_context = Some("c1".to_owned());
        assert_eq!(PathClass::of(&g, true), PathClass::NoApproval);
        g.auth_context = None;
        g.mfa = true;
        assert_eq!(PathClass::of(&g, true), PathClass::NoApproval);
        g.approval = Some(Approval::default());
        assert_eq!(PathClass::of(&g, true), PathClass::Approval);
    }

    #[test]
    fn classes_nest_and_a_path_takes_its_weakest_step() {
        assert!(PathClass::Standing < PathClass::NoApprovalNoMfa);
        assert!(PathClass::NoApprovalNoMfa < PathClass::NoApproval);
        assert!(PathClass::NoApproval < PathClass::Approval);
        assert_eq!(
            PathClass::of_path([PathClass::Standing, PathClass::NoApproval]),
            PathClass::NoApproval
        );
        assert_eq!(PathClass::of_path([]), PathClass::Standing);
        assert_eq!(PathClass::parse("any"), Some(PathClass::Approval));
        assert_eq!(
            PathClass::parse("no-approval-no-mfa"),
            Some(PathClass::NoApprovalNoMfa)
        );
    }
}
