// A strict JSON reader and the canonical string writer: exactly the rules of
// nexus_protocol.bridge.canonical (docs/bridge-protocol.md, "Canonical JSON").
//
// The reader accepts any valid JSON spelling and refuses what JSON leaves ambiguous: duplicate keys,
// NaN/Infinity, number tokens longer than 64 characters, values nested deeper than 32 levels.
// Numbers stay as their token (JsonNumber) until the schema says whether the field is an integer or a
// float, so an int64 is never routed through a double.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Nexus.Bridge
{
    public sealed class JsonNull
    {
        public static readonly JsonNull Instance = new JsonNull();
        JsonNull() { }
        public override string ToString() { return "null"; }
    }

    public sealed class JsonNumber
    {
        public readonly string Token;
        public JsonNumber(string token) { Token = token; }
        /// <summary>True when the token has no fraction and no exponent ("12", "-0").</summary>
        public bool IsInteger { get { return Token.IndexOfAny(new[] { '.', 'e', 'E' }) < 0; } }
        public override string ToString() { return Token; }
    }

    /// <summary>A JSON object: members in document order, and by name.</summary>
    public sealed class JsonObject
    {
        public readonly List<KeyValuePair<string, object>> Members = new List<KeyValuePair<string, object>>();
        readonly Dictionary<string, object> byName = new Dictionary<string, object>(StringComparer.Ordinal);

        public bool Add(string key, object value)
        {
            if (byName.ContainsKey(key)) return false;
            byName[key] = value;
            Members.Add(new KeyValuePair<string, object>(key, value));
            return true;
        }

        public bool TryGet(string key, out object value) { return byName.TryGetValue(key, out value); }
        public bool Contains(string key) { return byName.ContainsKey(key); }
        public int Count { get { return Members.Count; } }
    }

    public static class Json
    {
        public const int MaxNumberChars = 64;
        public const int MaxDepth = 32;
        static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        /// <summary>Parse a UTF-8 JSON document: JsonObject, List&lt;object&gt;, string, JsonNumber, bool or JsonNull.</summary>
        public static object Parse(byte[] utf8, int offset, int count)
        {
            string text;
            try { text = StrictUtf8.GetString(utf8, offset, count); }
            catch (ArgumentException) { throw Fail("body is not UTF-8"); }
            return Parse(text);
        }

        public static object Parse(string text)
        {
            var reader = new Reader(text);
            reader.SkipWhitespace();
            object value = reader.ReadValue(1);
            reader.SkipWhitespace();
            if (reader.Pos != text.Length) throw Fail("extra data at offset " + reader.Pos);
            return value;
        }

        static BridgeProtocolException Fail(string detail)
        {
            return new BridgeProtocolException(FrameErrorKind.BadJson, detail);
        }

        sealed class Reader
        {
            readonly string s;
            public int Pos;
            public Reader(string text) { s = text; }

            public void SkipWhitespace()
            {
                while (Pos < s.Length && (s[Pos] == ' ' || s[Pos] == '\t' || s[Pos] == '\n' || s[Pos] == '\r')) Pos++;
            }

            char Peek()
            {
                if (Pos >= s.Length) throw Fail("unexpected end of JSON");
                return s[Pos];
            }

            public object ReadValue(int depth)
            {
                if (depth > MaxDepth) throw Fail("nested deeper than " + MaxDepth + " levels");
                char c = Peek();
                if (c == '{') return ReadObject(depth);
                if (c == '[') return ReadArray(depth);
                if (c == '"') return ReadString();
                if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                if (Literal("true")) return true;
                if (Literal("false")) return false;
                if (Literal("null")) return JsonNull.Instance;
                throw Fail("unexpected character at offset " + Pos);
            }

            bool Literal(string word)
            {
                if (string.CompareOrdinal(s, Pos, word, 0, word.Length) != 0) return false;
                Pos += word.Length;
                return true;
            }

            JsonObject ReadObject(int depth)
            {
                var obj = new JsonObject();
                Pos++;
                SkipWhitespace();
                if (Peek() == '}') { Pos++; return obj; }
                while (true)
                {
                    SkipWhitespace();
                    if (Peek() != '"') throw Fail("expected a key at offset " + Pos);
                    string key = ReadString();
                    SkipWhitespace();
                    if (Peek() != ':') throw Fail("expected ':' at offset " + Pos);
                    Pos++;
                    SkipWhitespace();
                    object value = ReadValue(depth + 1);
                    if (!obj.Add(key, value)) throw Fail("duplicate key '" + key + "'");
                    SkipWhitespace();
                    char c = Peek();
                    Pos++;
                    if (c == '}') return obj;
                    if (c != ',') throw Fail("expected ',' or '}' at offset " + (Pos - 1));
                }
            }

            List<object> ReadArray(int depth)
            {
                var list = new List<object>();
                Pos++;
                SkipWhitespace();
                if (Peek() == ']') { Pos++; return list; }
                while (true)
                {
                    SkipWhitespace();
                    list.Add(ReadValue(depth + 1));
                    SkipWhitespace();
                    char c = Peek();
                    Pos++;
                    if (c == ']') return list;
                    if (c != ',') throw Fail("expected ',' or ']' at offset " + (Pos - 1));
                }
            }

            string ReadString()
            {
                var sb = new StringBuilder();
                Pos++;
                while (true)
                {
                    char c = Peek();
                    Pos++;
                    if (c == '"') return sb.ToString();
                    if (c < 0x20) throw Fail("raw control character in a string at offset " + (Pos - 1));
                    if (c != '\\') { sb.Append(c); continue; }
                    char esc = Peek();
                    Pos++;
                    switch (esc)
                    {
                        case '"': sb.Append('"'); break;
                        case '\\': sb.Append('\\'); break;
                        case '/': sb.Append('/'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'n': sb.Append('\n'); break;
                        case 'r': sb.Append('\r'); break;
                        case 't': sb.Append('\t'); break;
                        case 'u':
                            int code;
                            if (Pos + 4 > s.Length || !int.TryParse(s.Substring(Pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out code))
                                throw Fail("bad \\u escape at offset " + Pos);
                            sb.Append((char)code); // unpaired surrogates survive here; field validation refuses them
                            Pos += 4;
                            break;
                        default: throw Fail("bad escape \\" + esc + " at offset " + (Pos - 1));
                    }
                }
            }

            JsonNumber ReadNumber()
            {
                int start = Pos;
                if (s[Pos] == '-') Pos++;
                if (Pos < s.Length && s[Pos] == '0') Pos++;
                else if (!Digits()) throw Fail("bad number at offset " + start);
                if (Pos < s.Length && s[Pos] == '.') { Pos++; if (!Digits()) throw Fail("bad number at offset " + start); }
                if (Pos < s.Length && (s[Pos] == 'e' || s[Pos] == 'E'))
                {
                    Pos++;
                    if (Pos < s.Length && (s[Pos] == '+' || s[Pos] == '-')) Pos++;
                    if (!Digits()) throw Fail("bad number at offset " + start);
                }
                if (Pos - start > MaxNumberChars) throw Fail("number token longer than " + MaxNumberChars + " characters");
                return new JsonNumber(s.Substring(start, Pos - start));
            }

            bool Digits()
            {
                int start = Pos;
                while (Pos < s.Length && s[Pos] >= '0' && s[Pos] <= '9') Pos++;
                return Pos > start;
            }
        }

        /// <summary>Canonical string literal: escapes " \ and controls below U+0020, all else raw.</summary>
        public static void WriteString(StringBuilder sb, string value)
        {
            sb.Append('"');
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    default:
                        if (c < 0x20) sb.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                        else sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }

        /// <summary>True when the string has no unpaired UTF-16 surrogate (it can be written as UTF-8).</summary>
        public static bool IsValidUnicode(string value)
        {
            for (int i = 0; i < value.Length; i++)
            {
                char c = value[i];
                if (char.IsHighSurrogate(c))
                {
                    if (i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1])) return false;
                    i++;
                }
                else if (char.IsLowSurrogate(c)) return false;
            }
            return true;
        }
    }
}
