// Canonical text of doubles, and correctly rounded reading, independent of the runtime's formatter.
//
// Why not double.ToString("R")? On .NET Framework 4.8 (NinjaTrader 8) "R" is not always the shortest
// round-trip text and formats beyond 15 digits are padded with zeros; double.Parse was not correctly
// rounded before .NET Core 3.0. The bridge needs the same bytes as Python, so both are done here with
// exact integer arithmetic (System.Numerics.BigInteger): the shortest decimal that reads back as the same
// double, the closest of those (= Python repr, ECMAScript Number::toString), laid out like ECMAScript.
using System;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace Nexus.Bridge
{
    public static class CanonicalNumber
    {
        /// <summary>Canonical JSON text of a finite double ("0.1", "16250.75", "1e-7", "1e+21"; -0.0 is "0").</summary>
        public static string Format(double value)
        {
            if (double.IsNaN(value) || double.IsInfinity(value))
                throw new BridgeProtocolException(FrameErrorKind.BadValue, value.ToString(CultureInfo.InvariantCulture) + " is not a finite number");
            if (value == 0.0) return "0";
            long bits = BitConverter.DoubleToInt64Bits(value);
            int biased = (int)((bits >> 52) & 0x7FF);
            long fraction = bits & 0xFFFFFFFFFFFFFL;
            long m = biased == 0 ? fraction : fraction | (1L << 52);
            int e = biased == 0 ? -1074 : biased - 1075;
            // value = m * 2^e = N / D exactly. Everything below is scaled by 4D to stay in integers.
            BigInteger n = e >= 0 ? new BigInteger(m) << e : new BigInteger(m);
            BigInteger d = e >= 0 ? BigInteger.One : BigInteger.One << -e;
            BigInteger x = n * 4;
            BigInteger scale = d * 4;
            // Half the gap to the next double up; the gap below is half as wide at a power of two.
            BigInteger halfUp = e >= 0 ? BigInteger.One << (e + 1) : new BigInteger(2);
            BigInteger halfDown = (fraction == 0 && biased > 1) ? halfUp / 2 : halfUp;
            bool inclusive = (m & 1) == 0; // a tie on reading rounds to the even mantissa
            int k = DecimalExponent(n, d, Math.Abs(value));
            for (int p = 1; p <= 17; p++)
            {
                int s = k - p + 1;
                BigInteger f = s < 0 ? BigInteger.Pow(10, -s) : BigInteger.One;
                BigInteger unit = s >= 0 ? BigInteger.Pow(10, s) * scale : scale;
                BigInteger lo = (x - halfDown) * f, hi = (x + halfUp) * f, xs = x * f;
                BigInteger rem;
                BigInteger qmin = BigInteger.DivRem(lo, unit, out rem);
                if (!rem.IsZero || !inclusive) qmin += 1;
                BigInteger qmax = BigInteger.DivRem(hi, unit, out rem);
                if (rem.IsZero && !inclusive) qmax -= 1;
                if (qmin > qmax) continue;
                BigInteger q = BigInteger.DivRem(xs, unit, out rem);
                int cmp = (rem * 2).CompareTo(unit);
                if (cmp > 0 || (cmp == 0 && !q.IsEven)) q += 1;
                if (q < qmin) q = qmin;
                if (q > qmax) q = qmax;
                string digits = q.ToString(CultureInfo.InvariantCulture);
                int firstExp = s + digits.Length - 1;
                return (value < 0 ? "-" : "") + Layout(digits.TrimEnd('0'), firstExp);
            }
            throw new InvalidOperationException("no round-trip decimal within 17 digits"); // unreachable for doubles
        }

        // floor(log10(N/D)), from a floating estimate corrected exactly.
        static int DecimalExponent(BigInteger n, BigInteger d, double abs)
        {
            int k = (int)Math.Floor(Math.Log10(abs));
            while (ComparePow10(n, d, k) < 0) k--;
            while (ComparePow10(n, d, k + 1) >= 0) k++;
            return k;
        }

        static int ComparePow10(BigInteger n, BigInteger d, int k)
        {
            return k >= 0 ? n.CompareTo(BigInteger.Pow(10, k) * d) : (n * BigInteger.Pow(10, -k)).CompareTo(d);
        }

        /// <summary>Significant digits (no leading/trailing zeros) whose first digit has exponent firstExp.</summary>
        public static string Layout(string digits, int firstExp)
        {
            int n = digits.Length;
            if (firstExp > -7 && firstExp < 21)
            {
                if (firstExp >= n - 1) return digits + new string('0', firstExp - n + 1);
                if (firstExp >= 0) return digits.Substring(0, firstExp + 1) + "." + digits.Substring(firstExp + 1);
                return "0." + new string('0', -firstExp - 1) + digits;
            }
            var sb = new StringBuilder();
            sb.Append(digits[0]);
            if (n > 1) sb.Append('.').Append(digits, 1, n - 1);
            sb.Append('e').Append(firstExp > 0 ? '+' : '-').Append(Math.Abs(firstExp).ToString(CultureInfo.InvariantCulture));
            return sb.ToString();
        }

        /// <summary>
        /// The double nearest to a JSON number token (ties to even), as Python reads it for a float field:
        /// an integer token is read as an integer first, so "-0" gives +0.0. Overflow gives an infinity,
        /// which the caller refuses.
        /// </summary>
        public static double Parse(string token)
        {
            int i = 0;
            bool negative = token[0] == '-';
            if (negative) i++;
            var digits = new StringBuilder();
            int fractionDigits = 0;
            bool isInteger = true;
            for (; i < token.Length && char.IsDigit(token[i]); i++) digits.Append(token[i]);
            if (i < token.Length && token[i] == '.')
            {
                isInteger = false;
                for (i++; i < token.Length && char.IsDigit(token[i]); i++) { digits.Append(token[i]); fractionDigits++; }
            }
            long exp = 0;
            if (i < token.Length && (token[i] == 'e' || token[i] == 'E'))
            {
                isInteger = false;
                i++;
                bool expNegative = token[i] == '-';
                if (token[i] == '+' || token[i] == '-') i++;
                for (; i < token.Length; i++) exp = Math.Min(exp * 10 + (token[i] - '0'), 1000000000L);
                if (expNegative) exp = -exp;
            }
            string significant = digits.ToString().TrimStart('0');
            double sign = negative && !isInteger ? -1.0 : 1.0;
            if (significant.Length == 0) return sign * 0.0;
            long e10 = exp - fractionDigits;
            if (e10 + significant.Length > 311) return negative ? double.NegativeInfinity : double.PositiveInfinity;
            if (e10 + significant.Length < -330) return (negative ? -1.0 : 1.0) * 0.0;
            BigInteger mant = BigInteger.Parse(significant, CultureInfo.InvariantCulture);
            BigInteger num = e10 >= 0 ? mant * BigInteger.Pow(10, (int)e10) : mant;
            BigInteger den = e10 >= 0 ? BigInteger.One : BigInteger.Pow(10, (int)-e10);
            double magnitude = Nearest(num, den);
            return negative ? -magnitude : magnitude;
        }

        // The double nearest to num/den (> 0), ties to even.
        static double Nearest(BigInteger num, BigInteger den)
        {
            int shift = BitLength(num) - BitLength(den) - 53;
            BigInteger q, r, divisor;
            while (true)
            {
                if (shift < -1074) shift = -1074;
                BigInteger top = shift >= 0 ? num : num << -shift;
                divisor = shift >= 0 ? den << shift : den;
                q = BigInteger.DivRem(top, divisor, out r);
                if (q >= (BigInteger.One << 53)) { shift++; continue; }
                if (q < (BigInteger.One << 52) && shift > -1074) { shift--; continue; }
                break;
            }
            int cmp = (r * 2).CompareTo(divisor);
            if (cmp > 0 || (cmp == 0 && !q.IsEven)) q += 1;
            if (q == (BigInteger.One << 53)) { q = BigInteger.One << 52; shift++; }
            if (shift > 971) return double.PositiveInfinity;
            long mant = (long)q;
            long bits = mant < (1L << 52) ? mant : ((long)(shift + 1075) << 52) | (mant - (1L << 52));
            return BitConverter.Int64BitsToDouble(bits);
        }

        static int BitLength(BigInteger v)
        {
            byte[] bytes = v.ToByteArray(); // little-endian two's complement; v > 0
            int top = bytes.Length - 1;
            while (top > 0 && bytes[top] == 0) top--;
            int bits = top * 8;
            for (int b = bytes[top]; b != 0; b >>= 1) bits++;
            return bits;
        }
    }
}
