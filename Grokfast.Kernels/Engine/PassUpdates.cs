namespace Grokfast.Kernels.Engine;

/// <summary>
/// What a pass does with the filtered gradient: writes it back for the user's optimizer, or feeds it straight into
/// Adam's step (p.grad keeps the raw gradient). A struct type argument, so each pass is specialised per update.
/// </summary>
internal interface IPassUpdate
{
    /// <summary>Whether the pass steps Adam/AdamW on the parameters and moments.</summary>
    static abstract bool IsAdam { get; }

    /// <summary>
    /// Whether the step reads and writes float32 master weights and writes the parameter rounded from them (16-bit
    /// parameters), rather than updating the parameter in its own format.
    /// </summary>
    static abstract bool HasMaster { get; }
}

/// <summary>The filtered gradient is written back in place.</summary>
internal readonly struct WriteBack : IPassUpdate
{
    public static bool IsAdam => false;

    public static bool HasMaster => false;
}

/// <summary>Adam/AdamW on the parameters themselves: a 16-bit parameter is widened, stepped in float32 and rounded back.</summary>
internal readonly struct AdamDirect : IPassUpdate
{
    public static bool IsAdam => true;

    public static bool HasMaster => false;
}

/// <summary>
/// Adam/AdamW on float32 master weights, each 16-bit parameter written rounded from its master, so updates smaller than
/// half an ulp of the 16-bit value still accumulate.
/// </summary>
internal readonly struct AdamMaster : IPassUpdate
{
    public static bool IsAdam => true;

    public static bool HasMaster => true;
}
