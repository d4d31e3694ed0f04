using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bench.Grokking;

/// <summary>
/// The paper's data set: every equation <c>x · y = (x·y) mod p</c> with x in [0, p) and y in [1, p), as
/// token sequences <c>[x, op, y, =]</c> (numbers 0…p−1, <c>=</c> is p, the operator p+1) labelled with the
/// result, split 50/50 into training and validation by one random permutation. The paper's p is 97; a smaller p
/// makes the same task in miniature (tests of the plumbing).
/// </summary>
internal sealed class ModularMultiplication : IDisposable
{
    public const int PaperModulus = 97;

    /// <summary>The smallest modulus with a validation half: p = 3 has six equations.</summary>
    public const int MinModulus = 3;

    /// <summary>Builds the equations mod <paramref name="modulus"/> and splits them with the global generator's next permutation (seed it first).</summary>
    public ModularMultiplication(Device device, int modulus = PaperModulus)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(modulus, MinModulus);
        Modulus = modulus;
        using var scope = torch.NewDisposeScope();
        Tensor x = torch.arange(Modulus, dtype: ScalarType.Int64).repeat_interleave(Modulus - 1);
        Tensor y = torch.arange(1, Modulus, dtype: ScalarType.Int64).repeat(Modulus);
        Tensor sequences = torch.stack([x, torch.full_like(x, OperatorToken), y, torch.full_like(x, EqualsToken)]);
        Tensor results = x * y % Modulus;
        long count = x.shape[0];
        Tensor order = torch.randperm(count);
        Tensor trainIndex = order[..(int)(count / 2)];
        Tensor validIndex = order[(int)(count / 2)..];
        TrainInputs = sequences.index_select(1, trainIndex).to(device).DetachFromDisposeScope();
        TrainLabels = results.index_select(0, trainIndex).to(device).DetachFromDisposeScope();
        ValidInputs = sequences.index_select(1, validIndex).to(device).DetachFromDisposeScope();
        ValidLabels = results.index_select(0, validIndex).to(device).DetachFromDisposeScope();
    }

    public int Modulus { get; }

    /// <summary>Tokens: the numbers, <c>=</c> and the operator.</summary>
    public int Vocabulary => VocabularyOf(Modulus);

    public int EqualsToken => Modulus;

    public int OperatorToken => Modulus + 1;

    /// <summary>The vocabulary of the task mod <paramref name="modulus"/>: the numbers, <c>=</c> and the operator.</summary>
    public static int VocabularyOf(int modulus) => modulus + 2;

    /// <summary>Training sequences, (4, N) token ids: sequence-first, as the paper's model reads them.</summary>
    public Tensor TrainInputs { get; }

    public Tensor TrainLabels { get; }

    /// <summary>Validation sequences, (4, N).</summary>
    public Tensor ValidInputs { get; }

    public Tensor ValidLabels { get; }

    public long TrainCount => TrainLabels.shape[0];

    public long ValidCount => ValidLabels.shape[0];

    public void Dispose()
    {
        TrainInputs.Dispose();
        TrainLabels.Dispose();
        ValidInputs.Dispose();
        ValidLabels.Dispose();
    }
}
