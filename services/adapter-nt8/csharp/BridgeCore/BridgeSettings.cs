// Where the platform side finds the adapter and its token: a KEY=VALUE file in the user's folder,
// overridden by environment variables of the same names (NX_NT8_HOST, NX_NT8_PORT, NX_NT8_AUTH_TOKEN,
// NX_NT8_ACCOUNTS, NX_NT8_TLS, NX_NT8_TLS_SERVER_NAME). The token is a secret: it lives in the user's
// environment or that file (never in the NinjaScript or plugin sources, never in version control), and
// ToString() leaves it out.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;

namespace Nexus.Bridge
{
    public sealed class BridgeSettings
    {
        public string Host = "127.0.0.1";
        public int Port = 9001;
        public string AuthToken = "";
        public List<string> Accounts = new List<string>();
        public bool UseTls;
        public string TlsServerName;
        public string Source = "defaults";

        /// <summary>Defaults, then the file (if it exists), then the environment. Throws ArgumentException
        /// naming the key for a bad value or a missing token.</summary>
        public static BridgeSettings Load(string file, string defaultAccount)
        {
            var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var s = new BridgeSettings();
            if (file != null && File.Exists(file))
            {
                foreach (string raw in File.ReadAllLines(file))
                {
                    string line = raw.Trim();
                    if (line.Length == 0 || line.StartsWith("#", StringComparison.Ordinal)) continue;
                    int eq = line.IndexOf('=');
                    if (eq <= 0) throw new ArgumentException(file + ": expected KEY=VALUE, got '" + line + "'");
                    values[line.Substring(0, eq).Trim()] = line.Substring(eq + 1).Trim();
                }
                s.Source = file;
            }
            bool fromEnvironment = false;
            foreach (string key in new[] { "NX_NT8_HOST", "NX_NT8_PORT", "NX_NT8_AUTH_TOKEN", "NX_NT8_ACCOUNTS", "NX_NT8_TLS", "NX_NT8_TLS_SERVER_NAME" })
            {
                string env = Environment.GetEnvironmentVariable(key);
                if (!string.IsNullOrEmpty(env)) { values[key] = env; fromEnvironment = true; }
            }
            if (fromEnvironment) s.Source += " + environment";
            string v;
            if (values.TryGetValue("NX_NT8_HOST", out v)) s.Host = v;
            if (values.TryGetValue("NX_NT8_PORT", out v) && !int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out s.Port))
                throw new ArgumentException("NX_NT8_PORT: not a port number: " + v);
            if (values.TryGetValue("NX_NT8_AUTH_TOKEN", out v)) s.AuthToken = v;
            if (values.TryGetValue("NX_NT8_ACCOUNTS", out v))
                foreach (string a in v.Split(',')) if (a.Trim().Length > 0) s.Accounts.Add(a.Trim());
            if (s.Accounts.Count == 0 && defaultAccount != null) s.Accounts.Add(defaultAccount);
            if (values.TryGetValue("NX_NT8_TLS", out v)) s.UseTls = v == "1" || v.Equals("true", StringComparison.OrdinalIgnoreCase);
            if (values.TryGetValue("NX_NT8_TLS_SERVER_NAME", out v)) s.TlsServerName = v;
            if (s.AuthToken.Length == 0) throw new ArgumentException("NX_NT8_AUTH_TOKEN is not set (environment or " + file + ")");
            return s;
        }

        public BridgeClientOptions ClientOptions()
        {
            return new BridgeClientOptions { Host = Host, Port = Port, UseTls = UseTls, TlsServerName = TlsServerName };
        }

        public override string ToString()
        {
            return (UseTls ? "tls://" : "tcp://") + Host + ":" + Port + " accounts [" + string.Join(", ", Accounts) +
                   "] token " + (AuthToken.Length > 0 ? "set" : "missing") + " (from " + Source + ")";
        }
    }
}
