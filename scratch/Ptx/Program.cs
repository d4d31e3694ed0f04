using System.Reflection;
using Grokfast.Kernels.Backends;
using ILGPU.Runtime.Cuda;
foreach (var t in new[]{typeof(Grokfast.Kernels.Ema.EmaKernels), typeof(Grokfast.Kernels.WindowedMean.WindowedMeanKernels)}) {
  var m = t.GetMethod("Kernel", BindingFlags.NonPublic|BindingFlags.Static)!;
  string ptx = PtxCompiler.Compile(m, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);
  Console.WriteLine(ptx);
}
