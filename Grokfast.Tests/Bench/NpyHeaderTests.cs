using Grokfast.Reference.Npy;

namespace Grokfast.Tests.Bench;

public sealed class NpyHeaderTests
{
    public static TheoryData<string, string, bool, long[]> Valid => new()
    {
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", "<f4", false, [4, 3] },
        { "{\"shape\": (5,), \"descr\": \"<f2\", \"fortran_order\": True}", "<f2", true, [5] },
        { "{'descr':'<f4','fortran_order':False,'shape':()}          \n", "<f4", false, [] },
        { "{ 'descr' : '<f4' ,\n\t'fortran_order' : False ,\r\n 'shape' : ( 0 , 7 , ) , }", "<f4", false, [0, 7] },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 1), }", "<f4", false, [long.MaxValue, 1] },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Parse_WhatNumPyWritesAndPythonAccepts_GivesTheFields(string text, string descr, bool fortranOrder, long[] shape)
    {
        NpyHeader header = NpyHeader.Parse(text);

        Assert.Equal(descr, header.Descr);
        Assert.Equal(fortranOrder, header.FortranOrder);
        Assert.Equal(shape, header.Shape);
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), __import__('os') }", "`__import__('os') }`")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (-5, 3), }", "`-5, 3)")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (5), }", "(n,)")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 4L), }", "`3L, 4L)")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (03, 4), }", "`03, 4)")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1e3, 4), }", "`1e3, 4)")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", "larger than")]
    [InlineData("{'descr': '<f4', 'fortran_order': false, 'shape': (4,), }", "True or False")]
    [InlineData("{'descr': '<f4', 'fortran_order': Falsey, 'shape': (4,), }", "True or False")]
    [InlineData("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", "appears twice")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'order': 'C'}", "'order' is not one of")]
    [InlineData("{'descr': '<f4', 'fortran_order': False}", "no shape")]
    [InlineData("{}", "no descr, no fortran_order, no shape")]
    [InlineData("{,}", "expected a key")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} junk", "`junk`")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (4,),, }", "expected a key")]
    [InlineData("{'descr': '<f4, 'fortran_order': False, 'shape': (4,)}", "expected ',' or '}'")]
    [InlineData("{'descr': '<f4", "never closed")]
    [InlineData("{'descr': '<f\u00e94', 'fortran_order': False, 'shape': (4,)}", "\\xe9")]
    [InlineData("{'descr': '<f\\x34', 'fortran_order': False, 'shape': (4,)}", "escapes")]
    [InlineData("dict(descr='<f4')", "the header's dictionary")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)", "at the end of the header")]
    [InlineData("{'descr': 4, 'fortran_order': False, 'shape': (4,)}", "a string")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': [4, 3]}", "a tuple")]
    public void Parse_AnythingElse_ThrowsQuotingTheOffendingText(string text, string quoted)
    {
        FormatException error = Assert.Throws<FormatException>(() => NpyHeader.Parse(text));

        Assert.Contains(quoted, error.Message, StringComparison.Ordinal);
    }
}
