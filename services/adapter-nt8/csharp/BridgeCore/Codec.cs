// JSON tree <-> records, with the validation rules of the protocol, in the order the spec gives:
// body is an object, "type" names a message, absent then undeclared members, seq, values in declared
// order, then the cross-field rule. Encoding validates the same values before writing canonical JSON.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Nexus.Bridge
{
    /// <summary>JSON tree &lt;-&gt; records, with the validation rules of the protocol.</summary>
    public static class Codec
    {
        // -- decoding -------------------------------------------------------------------------------

        /// <summary>Validate a parsed body and build the message (checks in the order the spec gives).</summary>
        public static BridgeMessage ReadMessage(object json)
        {
            var obj = json as JsonObject;
            if (obj == null) throw new BridgeProtocolException(FrameErrorKind.NotObject, "body is a JSON " + JsonTypeName(json) + ", not an object");
            object type;
            if (!obj.TryGet("type", out type)) throw new BridgeProtocolException(FrameErrorKind.MissingField, "field 'type' is missing", "type");
            RecordSchema schema;
            var typeName = type as string;
            if (typeName == null || !Schema.Messages.TryGetValue(typeName, out schema))
                throw new BridgeProtocolException(FrameErrorKind.UnknownType, "unknown message type " + JsonTypeName(type), "type");
            CheckKeys(schema, obj, "");
            object seqValue;
            obj.TryGet("seq", out seqValue);
            var seqNumber = seqValue as JsonNumber;
            long seq;
            if (seqNumber == null || !seqNumber.IsInteger || !long.TryParse(seqNumber.Token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out seq) || seq < 1)
                throw new BridgeProtocolException(FrameErrorKind.BadSeq, "seq " + seqValue + " is not a positive int64", "seq");
            var msg = new BridgeMessage(typeName) { Seq = seq };
            Fill(msg, obj, "");
            CheckRules(msg);
            return msg;
        }

        /// <summary>Build a message of the given type from its fields (a vectors.json "fields" object).</summary>
        public static BridgeMessage ReadFields(string type, JsonObject fields)
        {
            var obj = new JsonObject();
            obj.Add("type", type);
            foreach (var kv in fields.Members) obj.Add(kv.Key, kv.Value);
            return ReadMessage(obj);
        }

        // Absent fields first (declared order), then undeclared ones (document order), then records.
        static void CheckKeys(RecordSchema schema, JsonObject obj, string path)
        {
            if (schema.IsMessage && !obj.Contains("seq")) throw Missing(path + "seq");
            foreach (FieldSpec f in schema.Fields)
                if (!obj.Contains(f.Name)) throw Missing(path + f.Name);
            foreach (var kv in obj.Members)
            {
                if (schema.IsMessage && (kv.Key == "type" || kv.Key == "seq")) continue;
                if (schema.IndexOf(kv.Key) < 0)
                    throw new BridgeProtocolException(FrameErrorKind.UnknownField, "field '" + path + kv.Key + "' is not declared", path + kv.Key);
            }
            foreach (FieldSpec f in schema.Fields)
            {
                Kind k = f.Kind;
                object value;
                obj.TryGet(f.Name, out value);
                if (k.Base == "record" && value is JsonObject) CheckKeys(Schema.Record(k.Ref), (JsonObject)value, path + f.Name + ".");
                if (k.Base == "list" && k.Item.Base == "record" && value is List<object>)
                {
                    var list = (List<object>)value;
                    for (int i = 0; i < list.Count; i++)
                        if (list[i] is JsonObject) CheckKeys(Schema.Record(k.Item.Ref), (JsonObject)list[i], path + f.Name + "[" + i + "].");
                }
            }
        }

        static BridgeProtocolException Missing(string path)
        {
            return new BridgeProtocolException(FrameErrorKind.MissingField, "field '" + path + "' is missing", path);
        }

        static void Fill(BridgeRecord record, JsonObject obj, string path)
        {
            FieldSpec[] fields = record.Schema.Fields;
            for (int i = 0; i < fields.Length; i++)
            {
                object value;
                obj.TryGet(fields[i].Name, out value);
                record.SetRaw(i, Convert(fields[i].Kind, value, path + fields[i].Name));
            }
        }

        static object Convert(Kind kind, object json, string path)
        {
            if (json is JsonNull)
            {
                if (kind.Nullable) return null;
                throw Bad(path, "null is not allowed");
            }
            switch (kind.Base)
            {
                case "string": case "name": case "coid": case "enum":
                    var s = json as string;
                    if (s == null) throw Bad(path, "expected a string, got " + JsonTypeName(json));
                    CheckScalar(kind, s, path);
                    return s;
                case "int": case "count": case "positive":
                    var n = json as JsonNumber;
                    long l;
                    if (n == null || !n.IsInteger) throw Bad(path, "expected an integer, got " + JsonTypeName(json));
                    if (!long.TryParse(n.Token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out l)) throw Bad(path, n.Token + " is out of range");
                    CheckScalar(kind, l, path);
                    return l;
                case "float":
                    var f = json as JsonNumber;
                    if (f == null) throw Bad(path, "expected a number, got " + JsonTypeName(json));
                    double d = CanonicalNumber.Parse(f.Token);
                    CheckScalar(kind, d, path);
                    return d;
                case "bool":
                    if (!(json is bool)) throw Bad(path, "expected true or false, got " + JsonTypeName(json));
                    return json;
                case "record":
                    var o = json as JsonObject;
                    if (o == null) throw Bad(path, "expected an object, got " + JsonTypeName(json));
                    var rec = BridgeRecord.Create(kind.Ref);
                    Fill(rec, o, path + ".");
                    return rec;
                case "list":
                    var items = json as List<object>;
                    if (items == null) throw Bad(path, "expected a list, got " + JsonTypeName(json));
                    var list = new List<object>(items.Count);
                    for (int i = 0; i < items.Count; i++) list.Add(Convert(kind.Item, items[i], path + "[" + i + "]"));
                    return list;
            }
            throw new InvalidOperationException("unknown kind " + kind.Text);
        }

        // -- validation of values (both directions) -------------------------------------------------

        static void CheckScalar(Kind kind, object value, string path)
        {
            switch (kind.Base)
            {
                case "string":
                case "name":
                    var s = value as string;
                    if (s == null) throw Bad(path, "expected a string");
                    if (!Json.IsValidUnicode(s)) throw Bad(path, "string contains an unpaired surrogate");
                    if (kind.Base == "name" && s.Length == 0) throw Bad(path, "must not be empty");
                    return;
                case "coid":
                    var c = value as string;
                    if (c == null || c.Length < 1 || c.Length > 50) throw Bad(path, "a client order id has 1 to 50 characters");
                    foreach (char ch in c) if (ch < 0x21 || ch > 0x7E) throw Bad(path, "a client order id is printable ASCII without spaces");
                    return;
                case "enum":
                    var e = value as string;
                    if (e == null || Array.IndexOf(Schema.Enums[kind.Ref], e) < 0) throw Bad(path, "'" + e + "' is not a " + kind.Ref);
                    return;
                case "int": case "count": case "positive":
                    if (!(value is long)) throw Bad(path, "expected an integer");
                    long l = (long)value;
                    if (kind.Base == "count" && l < 0) throw Bad(path, "must be >= 0");
                    if (kind.Base == "positive" && (l < 1 || l > int.MaxValue)) throw Bad(path, "must be 1.." + int.MaxValue);
                    return;
                case "float":
                    if (!(value is double)) throw Bad(path, "expected a double");
                    double d = (double)value;
                    if (double.IsNaN(d) || double.IsInfinity(d)) throw Bad(path, "must be a finite number");
                    return;
                case "bool":
                    if (!(value is bool)) throw Bad(path, "expected a bool");
                    return;
            }
        }

        static void CheckValue(Kind kind, object value, string path)
        {
            if (BridgeRecord.IsUnset(value)) throw new BridgeProtocolException(FrameErrorKind.MissingField, "field '" + path + "' is not set", path);
            if (value == null)
            {
                if (!kind.Nullable) throw Bad(path, "null is not allowed");
                return;
            }
            if (kind.Base == "record")
            {
                var rec = value as BridgeRecord;
                if (rec == null || rec.Schema.Name != kind.Ref) throw Bad(path, "expected a " + kind.Ref);
                CheckRecord(rec, path + ".");
                return;
            }
            if (kind.Base == "list")
            {
                var list = value as List<object>;
                if (list == null) throw Bad(path, "expected a list");
                for (int i = 0; i < list.Count; i++) CheckValue(kind.Item, list[i], path + "[" + i + "]");
                return;
            }
            CheckScalar(kind, value, path);
        }

        static void CheckRecord(BridgeRecord record, string path)
        {
            FieldSpec[] fields = record.Schema.Fields;
            for (int i = 0; i < fields.Length; i++) CheckValue(fields[i].Kind, record.RawValue(i), path + fields[i].Name);
        }

        // Cross-field rule: an order_submit's prices match its order type.
        static void CheckRules(BridgeMessage msg)
        {
            if (msg.Type != "order_submit") return;
            string type = msg.GetString("order_type");
            bool wantLimit = type == "limit", wantStop = type == "stop";
            if ((msg.Get("limit_price") != null) != wantLimit || (msg.Get("stop_price") != null) != wantStop)
                throw new BridgeProtocolException(FrameErrorKind.BadValue, "a " + type + " order needs limit_price " +
                    (wantLimit ? "set" : "null") + " and stop_price " + (wantStop ? "set" : "null"));
        }

        static BridgeProtocolException Bad(string path, string detail)
        {
            return new BridgeProtocolException(FrameErrorKind.BadValue, "field '" + path + "': " + detail, path);
        }

        static string JsonTypeName(object json)
        {
            if (json is JsonObject) return "object";
            if (json is List<object>) return "list";
            if (json is string) return "string '" + json + "'";
            if (json is JsonNumber) return "number " + json;
            if (json is bool) return "bool";
            return "null";
        }

        // -- encoding -------------------------------------------------------------------------------

        /// <summary>Validate every value, then write the canonical body: "type", "seq", declared fields.</summary>
        public static string WriteMessage(BridgeMessage msg)
        {
            if (msg.Seq < 1) throw new BridgeProtocolException(FrameErrorKind.BadSeq, "seq " + msg.Seq + " is not stamped (use FrameEncoder)", "seq");
            CheckRecord(msg, "");
            CheckRules(msg);
            var sb = new StringBuilder();
            sb.Append("{\"type\":");
            Json.WriteString(sb, msg.Type);
            sb.Append(",\"seq\":").Append(msg.Seq.ToString(CultureInfo.InvariantCulture));
            WriteFields(sb, msg, true, false);
            return sb.ToString();
        }

        /// <summary>Canonical JSON of any record, without validation and with auth_token redacted (for logs).</summary>
        public static string Write(BridgeRecord record)
        {
            var sb = new StringBuilder();
            var msg = record as BridgeMessage;
            if (msg != null)
            {
                sb.Append("{\"type\":");
                Json.WriteString(sb, msg.Type);
                sb.Append(",\"seq\":").Append(msg.Seq.ToString(CultureInfo.InvariantCulture));
                WriteFields(sb, record, true, true);
            }
            else
            {
                sb.Append('{');
                WriteFields(sb, record, false, true);
            }
            return sb.ToString();
        }

        static void WriteFields(StringBuilder sb, BridgeRecord record, bool comma, bool redact)
        {
            FieldSpec[] fields = record.Schema.Fields;
            for (int i = 0; i < fields.Length; i++)
            {
                if (comma) sb.Append(',');
                comma = true;
                Json.WriteString(sb, fields[i].Name);
                sb.Append(':');
                if (redact && fields[i].Name == "auth_token") sb.Append("\"***\"");
                else WriteValue(sb, fields[i].Kind, record.RawValue(i), redact);
            }
            sb.Append('}');
        }

        static void WriteValue(StringBuilder sb, Kind kind, object value, bool redact)
        {
            if (value == null || BridgeRecord.IsUnset(value)) { sb.Append("null"); return; }
            switch (kind.Base)
            {
                case "int": case "count": case "positive": sb.Append(((long)value).ToString(CultureInfo.InvariantCulture)); return;
                case "float": sb.Append(CanonicalNumber.Format((double)value)); return;
                case "bool": sb.Append((bool)value ? "true" : "false"); return;
                case "record": sb.Append('{'); WriteFields(sb, (BridgeRecord)value, false, redact); return;
                case "list":
                    sb.Append('[');
                    var list = (List<object>)value;
                    for (int i = 0; i < list.Count; i++)
                    {
                        if (i > 0) sb.Append(',');
                        WriteValue(sb, kind.Item, list[i], redact);
                    }
                    sb.Append(']');
                    return;
                default: Json.WriteString(sb, (string)value); return;
            }
        }
    }
}
