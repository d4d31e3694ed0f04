using Grokfast.Bench.Grokking;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Grokking;

public sealed class GrokkingSetupTests
{
    /// <summary>The figure README states: embeddings 99×128 + 5×128, two blocks of 198,272, final LayerNorm 256, head 128×99.</summary>
    public const long ParameterCount = 422_784;

    [Theory]
    [InlineData(97, 4656)]
    [InlineData(13, 78)]
    public void DataSet_HasEveryEquationOnce_SplitInHalves(int p, int half)
    {
        torch.manual_seed(0);
        using var data = new ModularMultiplication(torch.CPU, p);

        Assert.Equal(half, data.TrainCount);
        Assert.Equal(half, data.ValidCount);
        Assert.Equal(p + 2, data.Vocabulary);
        using Tensor inputs = torch.cat([data.TrainInputs, data.ValidInputs], 1);
        using Tensor labels = torch.cat([data.TrainLabels, data.ValidLabels]);
        Assert.Equal([4L, 2L * half], inputs.shape);
        long[] x = inputs[0].data<long>().ToArray(), op = inputs[1].data<long>().ToArray();
        long[] y = inputs[2].data<long>().ToArray(), eq = inputs[3].data<long>().ToArray(), z = labels.data<long>().ToArray();
        Assert.All(op, t => Assert.Equal(p + 1, t));
        Assert.All(eq, t => Assert.Equal(p, t));
        for (int i = 0; i < z.Length; i++) Assert.Equal(x[i] * y[i] % p, z[i]);
        Assert.Equal(2 * half, x.Zip(y, (a, b) => a * p + b).Distinct().Count());
        Assert.InRange(x.Min(), 0, 0);
        Assert.InRange(x.Max(), p - 1, p - 1);
        Assert.InRange(y.Min(), 1, 1);
        Assert.InRange(y.Max(), p - 1, p - 1);
    }

    [Fact]
    public void DataSet_SplitDependsOnTheSeed()
    {
        torch.manual_seed(0);
        using var first = new ModularMultiplication(torch.CPU);
        torch.manual_seed(1);
        using var second = new ModularMultiplication(torch.CPU);

        using Tensor same = first.TrainLabels.eq(second.TrainLabels).all();
        Assert.False(same.item<bool>());
    }

    [Fact]
    public void Model_HasThePapersParameterCount()
    {
        using var model = new GrokkingTransformer(ModularMultiplication.VocabularyOf(ModularMultiplication.PaperModulus));

        Assert.Equal(ParameterCount, model.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void Readme_StatesTheParameterCount()
    {
        string readme = File.ReadAllText(Path.Combine(Support.Repository.Root, "README.md"));

        Assert.Contains(ParameterCount.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), readme, StringComparison.Ordinal);
    }

    [Fact]
    public void TinyModel_AFewAdamSteps_LowerTheLoss()
    {
        torch.manual_seed(0);
        using var model = new GrokkingTransformer(ModularMultiplication.VocabularyOf(ModularMultiplication.PaperModulus), width: 32, blocks: 1, heads: 2);
        using var data = new ModularMultiplication(torch.CPU);
        using var optimizer = torch.optim.Adam(model.parameters(), 1e-2);
        using Tensor inputs = data.TrainInputs.narrow(1, 0, 64);
        using Tensor labels = data.TrainLabels.narrow(0, 0, 64);
        float Loss()
        {
            using var scope = torch.NewDisposeScope();
            Tensor loss = functional.cross_entropy(model.forward(inputs)[-1], labels);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            return loss.item<float>();
        }

        float first = Loss();
        for (int step = 0; step < 30; step++) Loss();
        float last = Loss();

        Assert.True(last < first * 0.5, $"loss went from {first} to {last}");
    }

    [Fact]
    public void Model_OutputsLogitsPerPositionSequenceFirst()
    {
        using var model = new GrokkingTransformer(ModularMultiplication.VocabularyOf(ModularMultiplication.PaperModulus), width: 32, blocks: 1, heads: 2);
        using Tensor tokens = torch.zeros(4, 3, dtype: ScalarType.Int64);
        using Tensor logits = model.forward(tokens);

        Assert.Equal([4L, 3L, 99L], logits.shape);
    }
}
