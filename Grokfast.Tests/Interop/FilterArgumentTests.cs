using Grokfast.Filters;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Interop;

public sealed class FilterArgumentTests
{
    public static TheoryData<string> BadHyperparameters() => new("ema alpha", "ma window_size", "kalman measurement_noise");

    [Theory]
    [MemberData(nameof(BadHyperparameters))]
    public void Constructor_WithABadHyperparameter_ThrowsBeforeTouchingTheGradients(string filter)
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        TinyMlp.Backward(model, x, y);
        nint[] before = GradientAddresses(model);

        Assert.Throws<ArgumentOutOfRangeException>(() => filter switch
        {
            "ema alpha" => (GradientFilter)new EmaFilter(model, alpha: 1.5),
            "ma window_size" => new WindowedMeanFilter(model, window_size: 0),
            _ => new KalmanFilter(model, measurement_noise: 0),
        });

        // Building a filter makes every gradient a view of its flat buffer; a refused one must not have.
        Assert.Equal(before, GradientAddresses(model));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void WindowedMean_WindowBelowOne_ThrowsNamingWindowSize(int windowSize)
    {
        using var model = TinyMlp.Create();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new WindowedMeanFilter(model, window_size: windowSize));
        Assert.Equal("window_size", error.ParamName);
    }

    [Fact]
    public void WindowedMean_UnknownFilterType_ThrowsNamingFilterType()
    {
        using var model = TinyMlp.Create();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new WindowedMeanFilter(model, filter_type: (WindowAggregation)7));
        Assert.Equal("filter_type", error.ParamName);
        Assert.Contains("Mean or Sum", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.NegativeInfinity)]
    public void WindowedMean_NonFiniteLamb_ThrowsNamingLamb(double lamb)
    {
        using var model = TinyMlp.Create();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new WindowedMeanFilter(model, lamb: lamb));
        Assert.Equal("lamb", error.ParamName);
    }

    [Theory]
    [InlineData(-1e-9, 1e-2, "process_noise")]
    [InlineData(double.NaN, 1e-2, "process_noise")]
    [InlineData(double.PositiveInfinity, 1e-2, "process_noise")]
    [InlineData(1e-4, 0, "measurement_noise")]
    [InlineData(1e-4, -1, "measurement_noise")]
    [InlineData(1e-4, double.NaN, "measurement_noise")]
    public void Kalman_NoiseOutOfRange_ThrowsNamingIt(double q, double r, string name)
    {
        using var model = TinyMlp.Create();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new KalmanFilter(model, process_noise: q, measurement_noise: r));
        Assert.Equal(name, error.ParamName);
    }

    [Fact]
    public void Kalman_NonFiniteLamb_ThrowsNamingLamb()
    {
        using var model = TinyMlp.Create();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new KalmanFilter(model, lamb: double.PositiveInfinity));
        Assert.Equal("lamb", error.ParamName);
    }

    [Fact]
    public void EveryFilter_AfterDispose_ThrowsObjectDisposed_AndDisposeIsIdempotent()
    {
        using var model = TinyMlp.Create();
        GradientFilter[] filters = [new EmaFilter(model), new WindowedMeanFilter(model, window_size: 3), new KalmanFilter(model)];
        foreach (GradientFilter filter in filters)
        {
            filter.Dispose();
            filter.Dispose();
            Assert.Throws<ObjectDisposedException>(filter.step);
            Assert.Throws<ObjectDisposedException>(() => filter.state_dict());
        }
    }

    private static nint[] GradientAddresses(Module model)
    {
        using var scope = torch.NewDisposeScope();
        return model.parameters().Select(p => (nint)p.grad!.storage<float>().data_ptr()).ToArray();
    }
}
