// Makes ML.NET 0.23.1's NAS-BERT trainers work with TorchSharp 0.107 by rewriting four small methods of the COPIED
// Microsoft.ML.TorchSharp.dll in an output folder (never the NuGet cache).
//
// Why: ModelUtils.InitNormal / InitXavierUniform / InitZeros / InitConstant were written as
//     using var _ = torch.nn.init.normal_(tensor, ...);
// Against TorchSharp 0.102 the init functions returned a new Tensor wrapper, so disposing it was harmless. From
// TorchSharp 0.103 on they return the very tensor they were given: the parameter of the module being built. Disposing
// it frees the module's own weights, and training fails with "Tensor invalid -- empty handle" (loading a saved model
// with "Mismatched state_dict sizes").
//
// What: in those four methods, each `callvirt System.IDisposable::Dispose()` (5 bytes: 0x6F + token) becomes
// `pop` + 4 `nop`. The stack effect is the same (one reference consumed, nothing pushed), so the method stays valid and
// the file keeps its size; only those bytes change, and the file keeps its timestamp so incremental copies stay
// incremental. Mono.Cecil locates the instructions; the bytes are patched in place. Running it again changes nothing.
//
// Used by eng/MlNetTorchSharpCompat.targets as an inline MSBuild task; the tests compile the same file
// (MLNETBERT_PATCH_TESTS) to check the patch on a copy.
#nullable disable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Mono.Cecil;
using Mono.Cecil.Cil;

#if !MLNETBERT_PATCH_TESTS
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class PatchMlNetTorchSharp : Task
{
    /// <summary>The copies of Microsoft.ML.TorchSharp.dll to patch in place.</summary>
    [Required]
    public ITaskItem[] Assemblies { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        foreach (var item in Assemblies)
        {
            string path = item.ItemSpec;
            try
            {
                var result = MlNetTorchSharpPatch.Patch(path);
                if (result.Patched > 0)
                    Log.LogMessage(MessageImportance.High, "ML.NET/TorchSharp compatibility: removed {0} Dispose calls from ModelUtils.Init* in {1}.", result.Patched, path);
                else if (!result.KnownMethodsFound)
                    Log.LogWarning("ML.NET/TorchSharp compatibility: {0} has no ModelUtils.Init* methods to patch; is this another ML.NET version? Nothing changed.", path);
                else
                    Log.LogMessage(MessageImportance.Low, "ML.NET/TorchSharp compatibility: {0} is already patched.", path);
            }
            catch (Exception ex) when (ex is IOException || ex is InvalidDataException || ex is UnauthorizedAccessException || ex is BadImageFormatException)
            {
                Log.LogError("Cannot patch {0}: {1}", path, ex.Message);
            }
        }
        return !Log.HasLoggedErrors;
    }
}
#endif

public static class MlNetTorchSharpPatch
{
    public const string TypeName = "Microsoft.ML.TorchSharp.Utils.ModelUtils";

    /// <summary>The helpers that dispose the tensor torch.nn.init.*_() hands back (the parameter itself since TorchSharp 0.103).</summary>
    public static readonly string[] MethodNames = { "InitNormal", "InitXavierUniform", "InitZeros", "InitConstant" };

    private const byte CallvirtOpcode = 0x6F;
    private const byte PopOpcode = 0x26;
    private const byte NopOpcode = 0x00;

    public sealed class Result
    {
        public int Patched { get; set; }
        public bool KnownMethodsFound { get; set; }
    }

    /// <summary>(method, IL offset) of every IDisposable.Dispose call left in the four helpers.</summary>
    public static List<KeyValuePair<string, int>> FindDisposeCalls(ModuleDefinition module)
    {
        var found = new List<KeyValuePair<string, int>>();
        foreach (var method in TargetMethods(module))
            foreach (var instruction in method.Body.Instructions.Where(IsDisposeCall))
                found.Add(new KeyValuePair<string, int>(method.Name, instruction.Offset));
        return found;
    }

    /// <summary>The four helper methods present in the module (none in an ML.NET build that no longer has them).</summary>
    public static List<MethodDefinition> TargetMethods(ModuleDefinition module)
    {
        var type = module.GetType(TypeName);
        if (type == null)
            return new List<MethodDefinition>();
        return type.Methods.Where(m => MethodNames.Contains(m.Name) && m.HasBody).ToList();
    }

    public static bool IsDisposeCall(Instruction instruction) =>
        instruction.OpCode.Code == Code.Callvirt
        && instruction.Operand is MethodReference target
        && target.Name == "Dispose"
        && target.DeclaringType.FullName == "System.IDisposable";

    /// <summary>Patches the file in place; returns how many calls were replaced (0 when already patched).</summary>
    public static Result Patch(string path)
    {
        byte[] image = File.ReadAllBytes(path);
        var patches = new List<int>();
        var result = new Result();
        using (var module = ModuleDefinition.ReadModule(new MemoryStream(image), new ReaderParameters { ReadSymbols = false }))
        {
            var methods = TargetMethods(module);
            result.KnownMethodsFound = methods.Count == MethodNames.Length;
            if (methods.Count > 0 && methods.Count != MethodNames.Length)
                throw new InvalidDataException($"expected {MethodNames.Length} ModelUtils.Init* methods, found {methods.Count}");
            foreach (var method in methods)
            {
                int code = CodeStart(image, method.RVA);
                foreach (var instruction in method.Body.Instructions.Where(IsDisposeCall))
                {
                    int at = code + instruction.Offset;
                    uint token = ((MethodReference)instruction.Operand).MetadataToken.ToUInt32();
                    if (image[at] != CallvirtOpcode || BitConverter.ToUInt32(image, at + 1) != token)
                        throw new InvalidDataException($"{method.Name}: IL at file offset {at} is not the expected callvirt Dispose");
                    patches.Add(at);
                }
            }
        }
        foreach (int at in patches)
        {
            image[at] = PopOpcode;
            for (int i = 1; i <= 4; i++)
                image[at + i] = NopOpcode;
        }
        result.Patched = patches.Count;
        if (patches.Count > 0)
        {
            DateTime stamp = File.GetLastWriteTimeUtc(path);
            string temp = path + ".patching";
            File.WriteAllBytes(temp, image);
            File.SetLastWriteTimeUtc(temp, stamp);
            File.Replace(temp, path, null);
        }
        return result;
    }

    /// <summary>File offset of a method's first IL byte: the RVA mapped through the PE section table, past the body header.</summary>
    private static int CodeStart(byte[] image, int rva)
    {
        int pe = BitConverter.ToInt32(image, 0x3C);
        if (BitConverter.ToUInt32(image, pe) != 0x00004550)
            throw new InvalidDataException("not a PE file");
        int coff = pe + 4;
        int sections = BitConverter.ToUInt16(image, coff + 2);
        int optionalSize = BitConverter.ToUInt16(image, coff + 16);
        int table = coff + 20 + optionalSize;
        for (int i = 0; i < sections; i++)
        {
            int s = table + i * 40;
            int virtualSize = BitConverter.ToInt32(image, s + 8);
            int virtualAddress = BitConverter.ToInt32(image, s + 12);
            int rawSize = BitConverter.ToInt32(image, s + 16);
            int rawPointer = BitConverter.ToInt32(image, s + 20);
            if (rva >= virtualAddress && rva < virtualAddress + Math.Max(virtualSize, rawSize))
            {
                int header = rawPointer + (rva - virtualAddress);
                byte first = image[header];
                return (first & 0x3) == 0x2
                    ? header + 1                                   // tiny header: one byte
                    : header + 4 * (BitConverter.ToUInt16(image, header) >> 12); // fat header: size in dwords
            }
        }
        throw new InvalidDataException($"RVA 0x{rva:X} is in no section");
    }
}
