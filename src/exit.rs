//! Exit codes, documented in one place (README, Exit codes). Pipelines branch on them.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// In sync, or everything appliable was applied.
    Success,
    /// With `--detailed-exitcode` (and always for `drift`): differences remain.
    Changes,
    /// A safety guard tripped, a saved plan is stale, or confirmation was not given.
    Refused,
    /// Bad input, authentication, network or API failure after retries.
    Error,
    /// Stopped by a signal after reporting what was done: 130 (SIGINT) or
    /// 143 (SIGTERM), as a shell reports a process the signal ended.
    Interrupted(u8),
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Error => 1,
            Exit::Changes => 2,
            Exit::Refused => 3,
            Exit::Interrupted(code) => code,
        }
    }

    /// How bad it is: a run over several targets exits with the most severe
    /// code among them, 1 over 3 over 2 over 0.
    fn severity(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Changes => 1,
            Exit::Refused => 2,
            Exit::Error => 3,
            Exit::Interrupted(_) => 4,
        }
    }

    /// The more severe of two outcomes.
    pub fn max(self, other: Exit) -> Exit {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_severe_wins_in_documented_order() {
        use Exit::*;
        assert_eq!(Success.max(Changes), Changes);
        assert_eq!(Changes.max(Refused), Refused);
        assert_eq!(Refused.max(Error), Error);
        assert_eq!(Error.max(Refused), Error);
        assert_eq!(Refused.max(Changes), Refused);
        let all = [Changes, Success, Error, Refused];
        assert_eq!(all.into_iter().fold(Success, Exit::max), Error);
    }
}
