//! What a failed `kubernetes/get_resource` call means, read from the text the host sends back.
//!
//! The host answers a failed lookup with text only: policy-evaluator's `get_resource` turns a
//! missing object into `Cannot find v1/Secret named 'x' inside of namespace 'Some("ns")'`, the
//! API server's other refusals arrive as kube-rs formats its `Status` (reason and code), the
//! capability checks say `has not been granted access`, and PolicyServer wraps all of it in
//! `Callback evaluation failure: ...` followed by a multi-line backtrace. Pure: no I/O.

use std::fmt;

/// Why a lookup gave no object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// The object does not exist (API status 404).
    NotFound,
    /// The policy may not read it; why decides the fix.
    NotPermitted(Denial),
    /// Anything else, summarised in one line without the host's wrappers or backtrace.
    Failed(String),
}

/// Who refused a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// Kubewarden itself: the resource is not in the policy's `contextAwareResources`, or the
    /// `kubernetes` host capability is not granted to the policy.
    Capability,
    /// The API server's RBAC: 403 Forbidden for the PolicyServer's ServiceAccount, with the user
    /// the API server names (`system:serviceaccount:kubewarden:policy-server`) when it does.
    Forbidden(Option<String>),
    /// The API server did not accept the PolicyServer's credentials: 401 Unauthorized.
    Unauthorized,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Denial::Capability => "the policy has not been granted access to it",
            Denial::Forbidden(_) => "the PolicyServer is forbidden to read it (403 Forbidden)",
            Denial::Unauthorized => {
                "the API server did not accept the PolicyServer's credentials (401 Unauthorized)"
            }
        })
    }
}

/// Longest summary of an unclassified failure kept in a message.
const SUMMARY_CHARS: usize = 200;

/// Wrappers the waPC guest, PolicyServer and kwctl put around the lookup's own error.
const WRAPPERS: [&str; 3] = ["Host error: ", "Callback evaluation failure: ", "Error: "];

/// Classifies the text of a failed host call.
///
/// ```
/// use image_pull_secrets::{classify_lookup_error as classify, Denial, LookupError};
/// let text = "Callback evaluation failure: Cannot find v1/Secret named 'corp' inside of namespace 'Some(\"team-c\")'\n\nStack backtrace:\n   0: ...";
/// assert_eq!(classify(text), LookupError::NotFound);
/// assert_eq!(
///     classify("Policy has not been granted access to Kubernetes v1/Secret resources. The violation has been reported."),
///     LookupError::NotPermitted(Denial::Capability)
/// );
/// ```
pub fn classify(text: &str) -> LookupError {
    let line = first_line(text);
    if let Some(code) = status_code(line) {
        return match code {
            404 => LookupError::NotFound,
            403 => LookupError::NotPermitted(Denial::Forbidden(forbidden_user(line))),
            401 => LookupError::NotPermitted(Denial::Unauthorized),
            _ => LookupError::Failed(summary(line)),
        };
    }
    if line.contains("has not been granted access") {
        return LookupError::NotPermitted(Denial::Capability);
    }
    if is_get_resource_not_found(line) {
        return LookupError::NotFound;
    }
    match status_message_verdict(line) {
        Some(verdict) => verdict,
        None if line.contains("Unauthorized") => LookupError::NotPermitted(Denial::Unauthorized),
        None => LookupError::Failed(summary(line)),
    }
}

/// The first line of the host's text, without the wrappers around the lookup's own error.
fn first_line(text: &str) -> &str {
    let mut line = text.lines().next().unwrap_or_default().trim();
    while let Some(rest) = WRAPPERS.iter().find_map(|w| line.strip_prefix(w)) {
        line = rest.trim_start();
    }
    line
}

/// One line, at most `SUMMARY_CHARS` characters.
fn summary(line: &str) -> String {
    let mut summary: String = line.chars().take(SUMMARY_CHARS).collect();
    if summary.len() < line.len() {
        summary.push('…');
    }
    summary
}

/// policy-evaluator's `get_resource` when the API server answered 404 (kube's `get_opt` gives
/// `None`): `Cannot find {api_version}/{kind} named '{name}' inside of namespace '{namespace:?}'`.
fn is_get_resource_not_found(line: &str) -> bool {
    line.strip_prefix("Cannot find ")
        .and_then(|rest| rest.split_once(' '))
        .is_some_and(|(resource, rest)| resource.contains('/') && rest.starts_with("named '"))
}

/// The HTTP code of an API `Status` as kube-rs prints it (`code: 403` inside `Status { .. }` or
/// `ErrorResponse { .. }`). Object names cannot hold spaces or colons, so no name can fake it.
fn status_code(line: &str) -> Option<u16> {
    let body = ["Status {", "ErrorResponse {"]
        .iter()
        .find_map(|marker| line.rfind(marker).map(|at| &line[at..]))?;
    let after = body.split("code: ").nth(1)?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The API server's own message, `secrets "corp" not found` or `secrets "corp" is forbidden: ...`,
/// read past the quoted name so that a name such as `notfound-creds` decides nothing.
fn status_message_verdict(line: &str) -> Option<LookupError> {
    let line = line.strip_prefix("ApiError: ").unwrap_or(line);
    let (resource, rest) = line.split_once(" \"")?;
    if resource.is_empty() || resource.contains(' ') {
        return None;
    }
    let (_name, after) = rest.split_once('"')?;
    let after = after.trim_start();
    if after.starts_with("not found") {
        Some(LookupError::NotFound)
    } else if after.starts_with("is forbidden") {
        Some(LookupError::NotPermitted(Denial::Forbidden(
            forbidden_user(line),
        )))
    } else {
        None
    }
}

/// The user the API server names in its 403 message (`... is forbidden: User "<user>" cannot get
/// ...`); usernames hold no quote or space.
fn forbidden_user(line: &str) -> Option<String> {
    let (_, after) = line.split_once(" is forbidden: User \"")?;
    let (user, _) = after.split_once("\" cannot ")?;
    (!user.is_empty() && !user.contains(['"', ' '])).then(|| user.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const BACKTRACE: &str =
        "\n\nStack backtrace:\n   0: anyhow::error::<impl anyhow::Error>::msg\n   1: policy_evaluator::callback_handler";

    #[rstest]
    #[case::policy_server_not_found(
        "Host error: Callback evaluation failure: Cannot find v1/Secret named 'corp' inside of namespace 'Some(\"team-c\")'",
        LookupError::NotFound
    )]
    #[case::service_account_not_found(
        "Cannot find v1/ServiceAccount named 'builder' inside of namespace 'Some(\"team-c\")'",
        LookupError::NotFound
    )]
    #[case::status_404(
        "ApiError: secrets \"corp\" not found: NotFound (Status { status: Some(Failure), code: 404 })",
        LookupError::NotFound
    )]
    #[case::status_403(
        "ApiError: secrets \"corp\" is forbidden: User \"system:serviceaccount:kubewarden:policy-server\" cannot get resource \"secrets\" in API group \"\" in the namespace \"team-c\": Forbidden (Status { code: 403 })",
        LookupError::NotPermitted(Denial::Forbidden(Some("system:serviceaccount:kubewarden:policy-server".into())))
    )]
    #[case::error_response_403(
        "ApiError: forbidden: Forbidden (ErrorResponse { status: \"Failure\", message: \"forbidden\", reason: \"Forbidden\", code: 403 })",
        LookupError::NotPermitted(Denial::Forbidden(None))
    )]
    #[case::status_401(
        "ApiError: Unauthorized: Unauthorized (Status { code: 401 })",
        LookupError::NotPermitted(Denial::Unauthorized)
    )]
    #[case::plain_forbidden(
        "secrets \"corp\" is forbidden: User \"x\" cannot get resource \"secrets\"",
        LookupError::NotPermitted(Denial::Forbidden(Some("x".into())))
    )]
    #[case::plain_not_found("secrets \"corp\" not found", LookupError::NotFound)]
    // A name that says "notfound" does not make a 403 a missing secret.
    #[case::plain_forbidden_name_says_notfound("secrets \"notfound\" is forbidden: User \"x\" cannot get resource \"secrets\"", LookupError::NotPermitted(Denial::Forbidden(Some("x".into()))))]
    #[case::forbidden_name_says_notfound("ApiError: secrets \"notfound-creds\" is forbidden: User \"x\" cannot get resource \"secrets\": Forbidden (Status { code: 403 })", LookupError::NotPermitted(Denial::Forbidden(Some("x".into()))))]
    #[case::resource_not_granted(
        "Policy has not been granted access to Kubernetes v1/Secret resources. The violation has been reported.",
        LookupError::NotPermitted(Denial::Capability)
    )]
    #[case::capability_not_granted(
        "Policy has not been granted access to the 'kubernetes/get_resource' host capability. The violation has been reported.",
        LookupError::NotPermitted(Denial::Capability)
    )]
    #[case::other("connection refused", LookupError::Failed("connection refused".into()))]
    fn classifies_what_the_host_sends(#[case] text: &str, #[case] expected: LookupError) {
        assert_eq!(classify(text), expected);
        assert_eq!(
            classify(&format!("{text}{BACKTRACE}")),
            expected,
            "with a backtrace"
        );
    }

    #[test]
    fn an_unknown_failure_keeps_one_short_line() {
        let long = format!(
            "Callback evaluation failure: timed out {}{BACKTRACE}",
            "x".repeat(500)
        );
        let LookupError::Failed(summary) = classify(&long) else {
            panic!("not a failure")
        };
        assert!(summary.starts_with("timed out x"), "{summary}");
        assert!(
            !summary.contains('\n') && !summary.contains("backtrace"),
            "{summary}"
        );
        assert!(summary.chars().count() <= SUMMARY_CHARS + 1, "{summary}");
    }
}
