using System.Globalization;
using System.Text;

namespace Grokfast.Reference.Npy;

/// <summary>
/// The dictionary in a <c>.npy</c> file's header, parsed strictly: a Python literal <c>{...}</c> with exactly the keys
/// <c>descr</c> (a string), <c>fortran_order</c> (<c>True</c> or <c>False</c>) and <c>shape</c> (a tuple of whole
/// numbers), in any order, each once, with Python's whitespace and trailing commas — the subset of Python literal
/// syntax NumPy writes. Anything else is refused with the offending text quoted, never evaluated or skipped.
/// </summary>
/// <param name="Descr">The dtype's array-protocol string, e.g. <c>&lt;f4</c>.</param>
/// <param name="FortranOrder">Whether the data is in column-major order.</param>
/// <param name="Shape">The dimensions, each ≥ 0.</param>
internal sealed record NpyHeader(string Descr, bool FortranOrder, long[] Shape)
{
    private static readonly string[] Keys = ["descr", "fortran_order", "shape"];

    /// <summary>Parses the header's text; <see cref="FormatException"/> quoting what is wrong.</summary>
    public static NpyHeader Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var cursor = new Cursor(text);
        cursor.Expect('{', "the header's dictionary");
        string? descr = null;
        bool? fortranOrder = null;
        long[]? shape = null;
        bool closed = cursor.TryTake('}');
        while (!closed)
        {
            int keyAt = cursor.Position;
            string key = cursor.String("a key");
            cursor.Expect(':', $"':' after '{key}'");
            switch (key)
            {
                case "descr" when descr is null:
                    descr = cursor.String("descr's value, a string");
                    break;
                case "fortran_order" when fortranOrder is null:
                    fortranOrder = cursor.Boolean();
                    break;
                case "shape" when shape is null:
                    shape = cursor.Tuple();
                    break;
                default:
                    throw cursor.Error(keyAt, Keys.Contains(key) ? $"the key '{key}' appears twice" : $"the key '{key}' is not one of {string.Join(", ", Keys)}");
            }
            if (cursor.TryTake(',')) closed = cursor.TryTake('}');
            else
            {
                cursor.Expect('}', "',' or '}'");
                closed = true;
            }
        }
        cursor.End();
        string[] missing = Keys.Where((key, i) => i switch { 0 => descr is null, 1 => fortranOrder is null, _ => shape is null }).ToArray();
        if (missing.Length > 0) throw new FormatException($"the header has no {string.Join(", no ", missing)}: {Quote(text, 0)}");
        return new NpyHeader(descr!, fortranOrder!.Value, shape!);
    }

    /// <summary>Up to 40 characters of <paramref name="text"/> from <paramref name="at"/>, quoted, control and non-ASCII characters escaped.</summary>
    private static string Quote(string text, int at)
    {
        const int shown = 40;
        var quoted = new StringBuilder("`");
        foreach (char c in text.AsSpan(at, Math.Min(shown, text.Length - at)))
            quoted.Append(c is >= ' ' and <= '~' ? c.ToString() : $"\\x{(int)c:x2}");
        if (text.Length - at > shown) quoted.Append('…');
        return quoted.Append('`').ToString();
    }

    /// <summary>A position in the header's text and the tokens read from it; whitespace between tokens is skipped.</summary>
    private sealed class Cursor(string text)
    {
        public int Position { get; private set; }

        public FormatException Error(int at, string what) =>
            new(at < text.Length ? $"{what} at character {at}: {Quote(text, at)}" : $"{what} at the end of the header");

        public bool TryTake(char token)
        {
            SkipWhitespace();
            if (Position >= text.Length || text[Position] != token) return false;
            Position++;
            return true;
        }

        public void Expect(char token, string what)
        {
            if (!TryTake(token)) throw Error(Position, $"expected {what}");
        }

        public void End()
        {
            SkipWhitespace();
            if (Position < text.Length) throw Error(Position, "unexpected text after the dictionary");
        }

        /// <summary>A string literal in single or double quotes, without escapes (NumPy writes none).</summary>
        public string String(string what)
        {
            SkipWhitespace();
            int start = Position;
            if (Position >= text.Length || text[Position] is not ('\'' or '"')) throw Error(start, $"expected {what}");
            char quote = text[Position++];
            int close = text.IndexOf(quote, Position);
            if (close < 0) throw Error(start, "a string that is never closed");
            string value = text[Position..close];
            if (value.Any(c => c is < ' ' or > '~' or '\\')) throw Error(start, "a string with escapes or characters outside printable ASCII");
            Position = close + 1;
            return value;
        }

        public bool Boolean()
        {
            SkipWhitespace();
            foreach ((string word, bool value) in new[] { ("True", true), ("False", false) })
            {
                if (string.CompareOrdinal(text, Position, word, 0, word.Length) == 0 && !IsWordCharacter(Position + word.Length))
                {
                    Position += word.Length;
                    return value;
                }
            }
            throw Error(Position, "expected True or False for fortran_order");
        }

        /// <summary>A tuple of whole numbers: <c>()</c>, <c>(5,)</c>, <c>(4, 3)</c>, <c>(4, 3,)</c>; <c>(5)</c> is a number, not a tuple.</summary>
        public long[] Tuple()
        {
            Expect('(', "the shape, a tuple such as (4, 3)");
            var dimensions = new List<long>();
            while (!TryTake(')'))
            {
                dimensions.Add(Dimension());
                if (TryTake(',')) continue;
                if (dimensions.Count == 1) throw Error(Position, "expected ',' (a one-dimensional shape is written (n,))");
                Expect(')', "',' or ')' in the shape");
                break;
            }
            return dimensions.ToArray();
        }

        private long Dimension()
        {
            SkipWhitespace();
            int start = Position;
            while (Position < text.Length && char.IsAsciiDigit(text[Position])) Position++;
            string digits = text[start..Position];
            if (digits.Length == 0 || IsWordCharacter(Position) || (digits.Length > 1 && digits[0] == '0'))
                throw Error(start, "expected a dimension, a whole number ≥ 0 written in decimal");
            if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long dimension))
                throw Error(start, $"a dimension larger than {long.MaxValue}");
            return dimension;
        }

        private bool IsWordCharacter(int at) => at < text.Length && (char.IsAsciiLetterOrDigit(text[at]) || text[at] is '_' or '.');

        private void SkipWhitespace()
        {
            while (Position < text.Length && text[Position] is ' ' or '\t' or '\n' or '\r') Position++;
        }
    }
}
