using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Grokking;

/// <summary>
/// The paper's decoder-only transformer: token and learned position embeddings, causal blocks, a final
/// LayerNorm and an output layer without bias. Sequence-first: input (seq, batch) token ids, output
/// (seq, batch, vocabulary) logits.
/// </summary>
internal sealed class GrokkingTransformer : Module<Tensor, Tensor>
{
    private readonly Embedding token_embeddings;
    private readonly Embedding position_embeddings;
    private readonly ModuleList<CausalBlock> layers;
    private readonly LayerNorm ln_f;
    private readonly Linear head;

    /// <summary>The paper's model width (embedding size).</summary>
    public const int PaperWidth = 128;

    /// <summary>Attention heads per block, as in the paper; a width must be a multiple of them.</summary>
    public const int PaperHeads = 4;

    public GrokkingTransformer(int vocabulary, int width = PaperWidth, int blocks = 2, int heads = PaperHeads, int positions = 5)
        : base(nameof(GrokkingTransformer))
    {
        token_embeddings = Embedding(vocabulary, width);
        position_embeddings = Embedding(positions, width);
        layers = new ModuleList<CausalBlock>(Enumerable.Range(0, blocks).Select(_ => new CausalBlock(width, heads)).ToArray());
        ln_f = LayerNorm(width);
        head = Linear(width, vocabulary, hasBias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor tokens)
    {
        using var scope = torch.NewDisposeScope();
        Tensor h = token_embeddings.forward(tokens);
        Tensor positions = torch.arange(tokens.shape[0], device: tokens.device).unsqueeze(-1);
        h = h + position_embeddings.forward(positions).expand_as(h);
        foreach (CausalBlock block in layers) h = block.forward(h);
        return head.forward(ln_f.forward(h)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The paper's block, which layer-normalises its input before keeping it for the residual:
    /// <c>x = ln_1(x); x = x + attn(x); x = x + mlp(ln_2(x))</c>, attention causal.
    /// </summary>
    private sealed class CausalBlock : Module<Tensor, Tensor>
    {
        private readonly LayerNorm ln_1;
        private readonly LayerNorm ln_2;
        private readonly MultiheadAttention attn;
        private readonly Sequential mlp;

        public CausalBlock(int width, int heads) : base(nameof(CausalBlock))
        {
            ln_1 = LayerNorm(width);
            ln_2 = LayerNorm(width);
            attn = MultiheadAttention(width, heads);
            mlp = Sequential(Linear(width, width * 4), GELU(), Linear(width * 4, width));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            long length = x.shape[0];
            using Tensor mask = torch.full(length, length, float.NegativeInfinity, dtype: x.dtype, device: x.device).triu(1);
            x = ln_1.forward(x);
            (Tensor attended, _) = attn.forward(x, x, x, null, false, mask);
            x = x + attended;
            return x + mlp.forward(ln_2.forward(x));
        }
    }
}
