//! `PgUrl`: a parsed `postgres://` URL whose password is never shown (`Display` and `Debug`
//! print `***` in its place), and its translation into a `postgres::Config`.

use crate::StoreError;
use std::fmt;
use std::time::Duration;

/// How TLS is used, as libpq's `sslmode` (`allow` is not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it (certificate not checked), plain otherwise. The default.
    Prefer,
    /// TLS or fail (certificate not checked, as libpq without a root certificate).
    Require,
    /// TLS with a certificate signed by a trusted root (`sslrootcert`, else the system's).
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
    /// The name as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Default connect timeout when the URL gives none.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL connection URL:
/// `postgres[ql]://[USER[:PASSWORD]@][HOST][:PORT][/DATABASE][?KEY=VALUE&...]`, with the query
/// keys `sslmode` (disable, prefer, require, verify-ca, verify-full), `sslrootcert` (a PEM
/// file), `connect_timeout` (seconds), `application_name`, `host` (a Unix socket directory
/// when it starts with `/`), `port`, `user`, `password`, `dbname` and `options`.
/// Percent-encoding is decoded. Displayed (and debug-printed) with the password as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl {
    scheme: String,
    user: Option<String>,
    password: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    dbname: Option<String>,
    sslmode: SslMode,
    sslrootcert: Option<String>,
    connect_timeout: Option<Duration>,
    application_name: Option<String>,
    options: Option<String>,
}

fn bad(raw: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        what: format!("PostgreSQL URL {}", mask_raw(raw)),
        reason: format!(
            "{}; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=require]",
            reason.into()
        ),
    }
}

/// A URL that did not parse, with anything that may be a password replaced by `***`: the
/// text between `user:` and the last `@` (whatever it holds), and the value of a `password=`
/// parameter. Over-masking is fine; a password must never show.
pub(crate) fn mask_raw(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return mask_query(raw);
    };
    let masked = match rest.rsplit_once('@') {
        Some((userinfo, after)) => match userinfo.split_once(':') {
            Some((u, _)) => format!("{u}:***@{}", mask_query(after)),
            None => format!("{userinfo}@{}", mask_query(after)),
        },
        None => mask_query(rest),
    };
    format!("{scheme}://{masked}")
}

/// `s` with the value of every `password=` parameter replaced by `***`.
fn mask_query(s: &str) -> String {
    let Some((head, q)) = s.split_once('?') else {
        return s.to_string();
    };
    let parts: Vec<String> = q
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{head}?{}", parts.join("&"))
}

fn decode(raw: &str, s: &str) -> Result<String, StoreError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(raw, "a `%` is not followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad(raw, "percent-encoding decodes to invalid UTF-8"))
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || "-._~".contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

impl PgUrl {
    /// Whether `s` is a PostgreSQL URL (starts with `postgres://` or `postgresql://`, any case).
    pub fn is_pg_url(s: &str) -> bool {
        let l = s.get(..13).unwrap_or(s).to_ascii_lowercase();
        l.starts_with("postgres://") || l.starts_with("postgresql://")
    }

    /// Parse a URL. Errors (`Invalid`) show it masked and say what form is expected.
    pub fn parse(raw: &str) -> Result<PgUrl, StoreError> {
        if !PgUrl::is_pg_url(raw) {
            return Err(bad(
                raw,
                "it does not start with postgres:// or postgresql://",
            ));
        }
        if raw.chars().any(char::is_whitespace) {
            return Err(bad(raw, "it contains white space"));
        }
        let (scheme, rest) = raw.split_once("://").unwrap_or(("postgres", raw));
        // A `?` before the last `@` means a password with an unencoded `?`: refuse it without
        // echoing any part (the pieces would hold the password).
        if let (Some(q), Some(at)) = (rest.find('?'), rest.rfind('@'))
            && q < at
        {
            return Err(bad(
                raw,
                "a `?` comes before the `@`: percent-encode special characters in the user name and password (? is %3F, @ is %40, # is %23)",
            ));
        }
        let (main, query) = match rest.split_once('?') {
            Some((m, q)) => (m, Some(q)),
            None => (rest, None),
        };
        if main.contains('#') || query.is_some_and(|q| q.contains('#')) {
            return Err(bad(raw, "a `#` must be percent-encoded (%23)"));
        }
        let mut url = PgUrl {
            scheme: scheme.to_ascii_lowercase(),
            user: None,
            password: None,
            host: None,
            port: None,
            dbname: None,
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            connect_timeout: None,
            application_name: None,
            options: None,
        };
        // The last `@` ends the user info (a password may hold an unencoded `/` or `@`).
        let after_user = match main.rsplit_once('@') {
            Some((userinfo, after)) => {
                match userinfo.split_once(':') {
                    Some((u, p)) => {
                        url.user = non_empty(decode(raw, u)?);
                        url.password = Some(decode(raw, p)?);
                    }
                    None => url.user = non_empty(decode(raw, userinfo)?),
                }
                after
            }
            None => main,
        };
        let (hostport, path) = match after_user.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (after_user, None),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad(raw, "an IPv6 host lacks its closing `]`"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad(raw, "junk after `]`"))?,
                ),
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (decode(raw, h)?, Some(p)),
                None => (decode(raw, hostport)?, None),
            }
        };
        url.host = non_empty(host);
        if let Some(p) = port.filter(|p| !p.is_empty()) {
            url.port = Some(parse_port(raw, p)?);
        }
        if let Some(p) = path {
            if p.contains('/') {
                return Err(bad(raw, "the database name contains a `/`"));
            }
            url.dbname = non_empty(decode(raw, p)?);
        }
        for kv in query.unwrap_or("").split('&').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| bad(raw, format!("the parameter `{}` has no `=`", mask_raw(kv))))?;
            let (k, v) = (decode(raw, k)?, decode(raw, v)?);
            match k.as_str() {
                "sslmode" => {
                    url.sslmode = SslMode::parse(&v).ok_or_else(|| {
                        bad(
                            raw,
                            format!(
                                "sslmode `{v}` is not one of disable, prefer, require, verify-ca, verify-full"
                            ),
                        )
                    })?
                }
                "sslrootcert" => url.sslrootcert = non_empty(v),
                "connect_timeout" => {
                    let s: u64 = v.parse().map_err(|_| {
                        bad(raw, format!("connect_timeout `{v}` is not whole seconds"))
                    })?;
                    url.connect_timeout = (s > 0).then(|| Duration::from_secs(s));
                }
                "application_name" => url.application_name = non_empty(v),
                "options" => url.options = non_empty(v),
                "host" => url.host = non_empty(v),
                "port" => url.port = Some(parse_port(raw, &v)?),
                "user" => url.user = non_empty(v),
                "password" => url.password = Some(v),
                "dbname" => url.dbname = non_empty(v),
                other => {
                    return Err(bad(
                        raw,
                        format!(
                            "unknown parameter `{other}` (known: sslmode, sslrootcert, connect_timeout, application_name, options, host, port, user, password, dbname)"
                        ),
                    ));
                }
            }
        }
        if url.host.is_none() {
            return Err(bad(raw, "it names no host"));
        }
        Ok(url)
    }

    /// The user (None: the server's default, the operating-system user name).
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
    /// The host name, address, or Unix socket directory.
    pub fn host(&self) -> &str {
        self.host.as_deref().unwrap_or("")
    }
    /// The port (5432 when the URL gives none).
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(5432)
    }
    /// The database name (None: the server's default, the user name).
    pub fn dbname(&self) -> Option<&str> {
        self.dbname.as_deref()
    }
    /// The TLS mode.
    pub fn sslmode(&self) -> SslMode {
        self.sslmode
    }
    /// Whether a password is given.
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }
    /// The same URL with another password (for tests and tools).
    pub fn with_password(&self, password: &str) -> PgUrl {
        PgUrl {
            password: Some(password.to_string()),
            ..self.clone()
        }
    }
    /// The same URL with another user and password.
    pub fn with_user(&self, user: &str, password: &str) -> PgUrl {
        PgUrl {
            user: Some(user.to_string()),
            password: Some(password.to_string()),
            ..self.clone()
        }
    }
    /// The same URL with another database.
    pub fn with_dbname(&self, dbname: &str) -> PgUrl {
        PgUrl {
            dbname: Some(dbname.to_string()),
            ..self.clone()
        }
    }
    /// The same URL with another TLS mode.
    pub fn with_sslmode(&self, mode: SslMode) -> PgUrl {
        PgUrl {
            sslmode: mode,
            ..self.clone()
        }
    }

    /// The same URL with a root certificate file (`sslrootcert`).
    pub fn with_sslrootcert(&self, file: &str) -> PgUrl {
        PgUrl {
            sslrootcert: Some(file.to_string()),
            ..self.clone()
        }
    }

    /// The full URL, password included: for handing to another process (a worker), never
    /// for printing.
    pub fn expose(&self) -> String {
        self.render(false)
    }

    fn render(&self, mask: bool) -> String {
        let mut s = format!("{}://", self.scheme);
        if let Some(u) = &self.user {
            s.push_str(&encode(u));
        }
        if let Some(p) = &self.password {
            s.push(':');
            s.push_str(&if mask { "***".to_string() } else { encode(p) });
        }
        if self.user.is_some() || self.password.is_some() {
            s.push('@');
        }
        let host = self.host();
        if host.starts_with('/') {
            s.push_str(&encode(host));
        } else if host.contains(':') {
            s.push_str(&format!("[{host}]"));
        } else {
            s.push_str(host);
        }
        s.push_str(&format!(":{}", self.port()));
        if let Some(d) = &self.dbname {
            s.push('/');
            s.push_str(&encode(d));
        }
        let mut q = Vec::new();
        if self.sslmode != SslMode::Prefer {
            q.push(format!("sslmode={}", self.sslmode.as_str()));
        }
        if let Some(c) = &self.sslrootcert {
            q.push(format!("sslrootcert={}", encode(c)));
        }
        if let Some(t) = self.connect_timeout {
            q.push(format!("connect_timeout={}", t.as_secs()));
        }
        if let Some(a) = &self.application_name {
            q.push(format!("application_name={}", encode(a)));
        }
        if let Some(o) = &self.options {
            q.push(format!("options={}", encode(o)));
        }
        if !q.is_empty() {
            s.push('?');
            s.push_str(&q.join("&"));
        }
        s
    }

    /// The `postgres::Config` of this URL (TLS is set up by the caller from [`PgUrl::sslmode`]).
    pub(crate) fn config(&self) -> postgres::Config {
        let mut c = postgres::Config::new();
        c.host(self.host()).port(self.port());
        // As libpq: the user from PGUSER, else the login name; the password from PGPASSWORD,
        // else the password file (PGPASSFILE or ~/.pgpass), so it can stay off the command line.
        let user = self
            .user
            .clone()
            .or_else(|| std::env::var("PGUSER").ok().filter(|u| !u.is_empty()))
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()));
        if let Some(u) = &user {
            c.user(u);
        }
        let dbname = self.dbname.clone().or_else(|| user.clone());
        let password = self.password.clone().or_else(|| {
            std::env::var("PGPASSWORD")
                .ok()
                .filter(|p| !p.is_empty())
                .or_else(|| {
                    let file = std::env::var_os("PGPASSFILE")
                        .map(std::path::PathBuf::from)
                        .or_else(|| {
                            std::env::var_os("HOME")
                                .map(|h| std::path::PathBuf::from(h).join(".pgpass"))
                        })?;
                    let text = std::fs::read_to_string(file).ok()?;
                    pgpass_lookup(
                        &text,
                        self.host(),
                        self.port(),
                        dbname.as_deref().unwrap_or(""),
                        user.as_deref().unwrap_or(""),
                    )
                })
        });
        if let Some(p) = &password {
            c.password(p);
        }
        if let Some(d) = &self.dbname {
            c.dbname(d);
        }
        if let Some(o) = &self.options {
            c.options(o);
        }
        c.application_name(self.application_name.as_deref().unwrap_or("automl"));
        c.connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT));
        c.keepalives(true);
        c.keepalives_idle(Duration::from_secs(30));
        c.ssl_mode(match self.sslmode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        });
        c
    }

    /// The root certificate file given by `sslrootcert`.
    pub(crate) fn sslrootcert(&self) -> Option<&str> {
        self.sslrootcert.as_deref()
    }
}

/// The password of the first line of a libpq password file (`host:port:db:user:password`,
/// `*` matches anything, a backslash escapes the next character) that matches the connection.
pub(crate) fn pgpass_lookup(
    text: &str,
    host: &str,
    port: u16,
    db: &str,
    user: &str,
) -> Option<String> {
    let port = port.to_string();
    // A Unix-socket directory matches the host `localhost` in the file, as in libpq.
    let host = if host.starts_with('/') {
        "localhost"
    } else {
        host
    };
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut chars = line.chars();
        while let Some(ch) = chars.next() {
            match ch {
                '\\' => {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut cur)),
                _ => cur.push(ch),
            }
        }
        fields.push(cur);
        if fields.len() != 5 {
            continue;
        }
        let ok = |pat: &str, v: &str| pat == "*" || pat == v;
        if ok(&fields[0], host)
            && ok(&fields[1], &port)
            && ok(&fields[2], db)
            && ok(&fields[3], user)
        {
            return Some(fields[4].clone());
        }
    }
    None
}

fn parse_port(raw: &str, p: &str) -> Result<u16, StoreError> {
    p.parse::<u16>()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| bad(raw, format!("port `{p}` is not a number from 1 to 65535")))
}

impl fmt::Display for PgUrl {
    /// The URL with the password as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(true))
    }
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgUrl({})", self.render(true))
    }
}

#[cfg(test)]
mod tests {
    use super::pgpass_lookup;

    #[test]
    fn pgpass_first_matching_line_wins_with_wildcards_and_escapes() {
        let text = "# comment\n\
                    db.example:5432:other:alice:wrong\n\
                    db.example:5432:*:alice:a\\:b\\\\c\n\
                    *:*:*:*:fallback\n";
        assert_eq!(
            pgpass_lookup(text, "db.example", 5432, "automl", "alice").as_deref(),
            Some("a:b\\c")
        );
        assert_eq!(
            pgpass_lookup(text, "db.example", 5433, "automl", "alice").as_deref(),
            Some("fallback")
        );
        assert_eq!(
            pgpass_lookup("h:1:d:u:p\n", "/run/postgresql", 1, "d", "u"),
            None
        );
        assert_eq!(
            pgpass_lookup("localhost:1:d:u:p\n", "/run/postgresql", 1, "d", "u").as_deref(),
            Some("p")
        );
        assert_eq!(pgpass_lookup("too:few:fields\n", "too", 1, "d", "u"), None);
    }
}
