// Runs the bridge test vectors against BridgeCore, and plays the platform side of a live session
// against a Python peer. Driven by tests/conformance/test_bridge_csharp.py.
//
//   BridgeCore.Tests.exe vectors <vectors.json>        every vector + unit checks; exit 0 when all pass
//   BridgeCore.Tests.exe numbers <in> <out>            each line "bits" -> "bits text bits(Parse(text))"
//   BridgeCore.Tests.exe parse <in> <out>              each line "token" -> "token bits(Parse(token))"
//   BridgeCore.Tests.exe live <host> <port>            the live scenario (LiveSession.cs)
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Nexus.Bridge;

namespace Nexus.Bridge.Tests
{
    public static class Program
    {
        static int passed, failed;

        public static int Main(string[] args)
        {
            if (args.Length == 2 && args[0] == "vectors") return RunVectors(args[1]);
            if (args.Length == 3 && args[0] == "numbers") return MapLines(args[1], args[2], FormatLine);
            if (args.Length == 3 && args[0] == "parse") return MapLines(args[1], args[2], t => t + " " + Bits(CanonicalNumber.Parse(t)));
            if (args.Length == 3 && args[0] == "live") return LiveSession.Run(args[1], int.Parse(args[2]));
            Console.Error.WriteLine("usage: vectors <file> | numbers <in> <out> | parse <in> <out> | live <host> <port>");
            return 64;
        }

        static string FormatLine(string bits)
        {
            string text = CanonicalNumber.Format(FromBits(bits));
            return bits + " " + text + " " + Bits(CanonicalNumber.Parse(text));
        }

        static int MapLines(string input, string output, Func<string, string> map)
        {
            var lines = File.ReadAllLines(input).Where(l => l.Length > 0).Select(map);
            File.WriteAllLines(output, lines);
            return 0;
        }

        internal static string Bits(double v) { return BitConverter.DoubleToInt64Bits(v).ToString("x16"); }
        internal static double FromBits(string hex) { return BitConverter.Int64BitsToDouble(Convert.ToInt64(hex, 16)); }
        static byte[] Hex(string hex)
        {
            var bytes = new byte[hex.Length / 2];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = Convert.ToByte(hex.Substring(2 * i, 2), 16);
            return bytes;
        }
        static string ToHex(byte[] b) { return BitConverter.ToString(b).Replace("-", "").ToLowerInvariant(); }

        internal static void Check(bool ok, string what)
        {
            if (ok) passed++;
            else { failed++; Console.WriteLine("FAIL " + what); }
        }

        // field: null = not checked, "" = the exception must name no field.
        internal static void Expect(string kind, string field, string what, Action action)
        {
            try { action(); Check(false, what + ": no exception, expected " + kind); }
            catch (BridgeProtocolException ex)
            {
                Check(ex.Kind == kind, what + ": kind " + ex.Kind + " (" + ex.Message + "), expected " + kind);
                Check(field == null || (ex.Field ?? "") == field, what + ": field '" + ex.Field + "', expected '" + field + "'");
            }
        }

        static JsonObject Obj(object o) { return (JsonObject)o; }
        static string Str(JsonObject o, string key) { object v; o.TryGet(key, out v); return v as string; }
        static List<object> Arr(JsonObject o, string key) { object v; o.TryGet(key, out v); return (List<object>)v; }

        static int RunVectors(string path)
        {
            var v = Obj(Json.Parse(File.ReadAllText(path, Encoding.UTF8)));
            CheckSchema(Obj(Get(v, "schema")));
            var all = new List<byte>();
            int frames = 0;
            foreach (JsonObject vec in Arr(v, "frames"))
            {
                string name = Str(vec, "name");
                frames++;
                Guard("frame " + name, () =>
                {
                    BridgeMessage msg = Codec.ReadFields(Str(vec, "type"), Obj(Get(vec, "fields")));
                    byte[] encoded = Frame.Encode(msg);
                    all.AddRange(encoded);
                    Check(ToHex(encoded) == Str(vec, "hex"), "encode " + name + ": " + Encoding.UTF8.GetString(encoded, 8, encoded.Length - 8));
                    BridgeMessage decoded = Frame.Decode(Hex(Str(vec, "hex")));
                    Check(decoded.ValueEquals(msg), "decode " + name);
                    Check(Codec.WriteMessage(decoded) == Str(vec, "body"), "re-encode " + name);
                });
            }
            foreach (JsonObject vec in Arr(v, "decode_only"))
                Guard("decode_only " + Str(vec, "name"), () =>
                {
                    BridgeMessage expected = Codec.ReadFields(Str(vec, "type"), Obj(Get(vec, "fields")));
                    Check(Frame.Decode(Hex(Str(vec, "hex"))).ValueEquals(expected), "decode_only " + Str(vec, "name"));
                });
            foreach (JsonObject vec in Arr(v, "invalid"))
                Expect(Str(vec, "kind"), Str(vec, "field") ?? "", "invalid " + Str(vec, "name"),
                       () => { Frame.Decode(Hex(Str(vec, "hex"))); });
            foreach (JsonObject vec in Arr(v, "invalid_streams"))
            {
                var decoder = new FrameDecoder();
                try { decoder.Feed(Hex(Str(vec, "hex"))); Check(false, "stream " + Str(vec, "name") + " decoded"); }
                catch (BridgeProtocolException ex)
                {
                    Check(ex.Kind == Str(vec, "kind"), "stream " + Str(vec, "name") + ": " + ex.Message);
                    Check(ex.Decoded.Count.ToString() == ((JsonNumber)Get(vec, "decoded")).Token, "stream decoded count " + Str(vec, "name"));
                }
                Expect(Str(vec, "kind"), null, "failed decoder stays failed", () => decoder.Feed(new byte[] { 1 }));
            }
            CheckStream(all.ToArray(), frames);
            foreach (JsonObject vec in Arr(v, "numbers"))
                Guard("number " + Str(vec, "text"), () =>
                {
                    double value = FromBits(Str(vec, "bits"));
                    Check(CanonicalNumber.Format(value) == Str(vec, "text"), "format " + Str(vec, "text") + " got " + CanonicalNumber.Format(value));
                    Check(CanonicalNumber.Parse(Str(vec, "text")) == value, "parse " + Str(vec, "text"));
                });
            foreach (JsonObject vec in Arr(v, "number_reads"))
                Guard("read " + Str(vec, "text"), () => Check(Bits(CanonicalNumber.Parse(Str(vec, "text"))) == Str(vec, "bits"), "read " + Str(vec, "text")));
            Guard("unit checks", UnitChecks.Run);
            Console.WriteLine("vectors: " + frames + " frames, " + Arr(v, "invalid").Count + " invalid, " +
                              passed + " checks passed, " + failed + " failed");
            return failed == 0 ? 0 : 1;
        }

        static void Guard(string what, Action action)
        {
            try { action(); }
            catch (Exception ex) { Check(false, what + " threw " + ex.GetType().Name + ": " + ex.Message); }
        }

        static object Get(JsonObject o, string key) { object v; o.TryGet(key, out v); return v; }

        static void CheckSchema(JsonObject schema)
        {
            var messages = Obj(Get(schema, "messages"));
            Check(messages.Count == Schema.Messages.Count, "schema: message count");
            foreach (var kv in messages.Members)
            {
                RecordSchema mine;
                Check(Schema.Messages.TryGetValue(kv.Key, out mine) && SameFields(mine, (List<object>)kv.Value), "schema: message " + kv.Key);
            }
            var records = Obj(Get(schema, "records"));
            Check(records.Count == Schema.Records.Count, "schema: record count");
            foreach (var kv in records.Members)
            {
                RecordSchema mine;
                Check(Schema.Records.TryGetValue(kv.Key, out mine) && SameFields(mine, (List<object>)kv.Value), "schema: record " + kv.Key);
            }
            var enums = Obj(Get(schema, "enums"));
            Check(enums.Count == Schema.Enums.Count, "schema: enum count");
            foreach (var kv in enums.Members)
            {
                string[] mine;
                Check(Schema.Enums.TryGetValue(kv.Key, out mine) && mine.SequenceEqual(((List<object>)kv.Value).Cast<string>()), "schema: enum " + kv.Key);
            }
        }

        static bool SameFields(RecordSchema mine, List<object> theirs)
        {
            if (mine.Fields.Length != theirs.Count) return false;
            for (int i = 0; i < theirs.Count; i++)
            {
                var pair = (List<object>)theirs[i];
                if ((string)pair[0] != mine.Fields[i].Name || (string)pair[1] != mine.Fields[i].Kind.Text) return false;
            }
            return true;
        }

        static void CheckStream(byte[] all, int frames)
        {
            var decoder = new FrameDecoder();
            int got = 0;
            for (int i = 0; i < all.Length; i++) got += decoder.Feed(all, i, 1).Count;
            Check(got == frames && decoder.Buffered == 0 && decoder.LastSeq == frames, "stream byte by byte: " + got);
            decoder = new FrameDecoder();
            Check(decoder.Feed(all).Count == frames, "stream in one piece");
        }
    }
}
