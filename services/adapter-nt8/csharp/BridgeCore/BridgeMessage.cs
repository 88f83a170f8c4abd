// Message and record values, with the validation both directions apply (the C# twin of the pydantic
// models): decoding checks a JSON tree against the schema; encoding checks the values, then writes the
// canonical JSON. Values: string (string kinds and enums), long (int kinds), double, bool, null,
// BridgeRecord (records), List<object> (lists).
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Nexus.Bridge
{
    public class BridgeRecord
    {
        static readonly object Unset = new object();
        public readonly RecordSchema Schema;
        readonly object[] values;

        public BridgeRecord(RecordSchema schema)
        {
            Schema = schema;
            values = new object[schema.Fields.Length];
            for (int i = 0; i < values.Length; i++)
            {
                Kind kind = schema.Fields[i].Kind;
                values[i] = kind.Nullable ? null : kind.Base == "list" ? (object)new List<object>() : Unset;
            }
        }

        public static BridgeRecord Create(string recordName) { return new BridgeRecord(Nexus.Bridge.Schema.Record(recordName)); }

        /// <summary>Set a field; ints are widened to long, floats to double, string sequences to lists.</summary>
        public BridgeRecord Set(string field, object value)
        {
            values[Index(field)] = Normalize(value);
            return this;
        }

        public object Get(string field)
        {
            object v = values[Index(field)];
            if (ReferenceEquals(v, Unset)) throw new InvalidOperationException("field '" + field + "' is not set");
            return v;
        }

        public bool IsSet(string field) { return !ReferenceEquals(values[Index(field)], Unset); }
        public string GetString(string field) { return (string)Get(field); }
        public long GetLong(string field) { return (long)Get(field); }
        public long? GetNullableLong(string field) { object v = Get(field); return v == null ? (long?)null : (long)v; }
        public double GetDouble(string field) { return (double)Get(field); }
        public double? GetNullableDouble(string field) { object v = Get(field); return v == null ? (double?)null : (double)v; }
        public bool GetBool(string field) { return (bool)Get(field); }

        public List<string> GetStrings(string field)
        {
            var list = new List<string>();
            foreach (object o in (List<object>)Get(field)) list.Add((string)o);
            return list;
        }

        public List<BridgeRecord> GetRecords(string field)
        {
            var list = new List<BridgeRecord>();
            foreach (object o in (List<object>)Get(field)) list.Add((BridgeRecord)o);
            return list;
        }

        int Index(string field)
        {
            int i = Schema.IndexOf(field);
            if (i < 0) throw new ArgumentException(Schema.Name + " has no field '" + field + "'");
            return i;
        }

        internal object RawValue(int i) { return values[i]; }
        internal void SetRaw(int i, object value) { values[i] = value; }
        internal static bool IsUnset(object v) { return ReferenceEquals(v, Unset); }

        static object Normalize(object value)
        {
            if (value is int) return (long)(int)value;
            if (value is float) return (double)(float)value;
            if (value is decimal) return (double)(decimal)value;
            if (value is string || value is BridgeRecord || value is List<object>) return value;
            var strings = value as IEnumerable<string>;
            if (strings != null) return new List<object>(strings);
            var records = value as IEnumerable<BridgeRecord>;
            if (records != null) { var l = new List<object>(); foreach (var r in records) l.Add(r); return l; }
            return value;
        }

        /// <summary>Deep equality of values (doubles compared with ==, so -0.0 equals 0.0).</summary>
        public bool ValueEquals(BridgeRecord other)
        {
            if (other == null || other.Schema != Schema) return false;
            var m1 = this as BridgeMessage;
            var m2 = other as BridgeMessage;
            if (m1 != null && m1.Seq != m2.Seq) return false;
            for (int i = 0; i < values.Length; i++)
                if (!Same(values[i], other.values[i])) return false;
            return true;
        }

        static bool Same(object a, object b)
        {
            if (a == null || b == null) return a == null && b == null;
            if (a is double && b is double) return (double)a == (double)b;
            var ra = a as BridgeRecord;
            if (ra != null) return ra.ValueEquals(b as BridgeRecord);
            var la = a as List<object>;
            if (la != null)
            {
                var lb = b as List<object>;
                if (lb == null || lb.Count != la.Count) return false;
                for (int i = 0; i < la.Count; i++) if (!Same(la[i], lb[i])) return false;
                return true;
            }
            return a.Equals(b);
        }

        public override string ToString() { return Codec.Write(this); }
    }

    /// <summary>A record with a type and a per-connection sequence number (stamped by FrameEncoder).</summary>
    public sealed class BridgeMessage : BridgeRecord
    {
        public long Seq { get; set; }
        public string Type { get { return Schema.Name; } }

        public BridgeMessage(string type) : base(Nexus.Bridge.Schema.Message(type)) { }

        public new BridgeMessage Set(string field, object value) { base.Set(field, value); return this; }
    }
}
