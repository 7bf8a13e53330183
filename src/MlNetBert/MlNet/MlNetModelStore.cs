using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MlNetBert.Inference;

namespace MlNetBert.MlNet;

/// <summary>
/// Lets <c>mlContext.Model.Save</c> and <c>mlContext.Model.Load</c> hold MlNetBert's transformers, weights inside the
/// ML.NET <c>.zip</c>.
/// </summary>
/// <remarks>
/// ML.NET 5.0.1 gives third-party transformers no public way into its model files: <see cref="ModelSaveContext"/>'s
/// members, <c>ModelLoadContext</c>, <c>VersionInfo</c>, <c>SignatureLoadModel</c> and <c>LoadableClassAttribute</c>
/// are all internal. This class bridges that gap in two parts, both checked by tests against the pinned ML.NET:
/// <list type="bullet">
/// <item>Saving calls the internal members of <see cref="ModelSaveContext"/> by reflection: the version header, a small
/// main stream (column names, batch size) and one binary stream holding the MlNetBert model file.</item>
/// <item>Loading needs a loadable class registered under the loader signature the header names. This class emits, once
/// per process, a small in-memory assembly (<see cref="LoaderAssemblyName"/>) carrying ML.NET's
/// <c>LoadableClassAttribute</c> and a <c>Create(IHostEnvironment, ModelLoadContext)</c> method per transformer that
/// calls back into this class. ML.NET loads that assembly by name when it reads the header; a resolver installed when
/// MlNetBert's assembly initialises hands it the emitted one.</item>
/// </list>
/// A process that has not used any MlNetBert type before loading must call
/// <see cref="RegisterMlNetBert(ComponentCatalog)"/> first (as ML.NET's own <c>CustomMapping</c> needs
/// <c>RegisterAssembly</c>).
/// </remarks>
public static class MlNetModelStore
{
    /// <summary>The name ML.NET records as the loader assembly of every MlNetBert transformer it saves.</summary>
    public const string LoaderAssemblyName = "MlNetBert.MlNetLoaders";

    internal const string BertTransformerSignature = "MlNetBertTransformer";
    internal const string BertOnnxTransformerSignature = "MlNetBertOnnxTransform";
    internal const string BertSentenceEmbeddingSignature = "MlNetBertEmbedTransform";

    private static readonly Assembly MlCore = typeof(ModelSaveContext).Assembly;
    private static readonly Lazy<Assembly> Loaders = new(EmitLoaders, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int _resolverInstalled;

    /// <summary>
    /// Makes <c>mlContext.Model.Load</c> able to read MlNetBert transformers in this context:
    /// <c>mlContext.ComponentCatalog.RegisterMlNetBert()</c>. Needed only in a process that has not touched any
    /// MlNetBert type before loading; calling it more than once is harmless.
    /// </summary>
    public static void RegisterMlNetBert(this ComponentCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        InstallResolver();
        catalog.RegisterAssembly(Loaders.Value);
    }

    [ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "ML.NET resolves the loader assembly by name while reading a model; the resolver must exist before that.")]
    internal static void InstallResolver()
    {
        if (Interlocked.Exchange(ref _resolverInstalled, 1) == 1)
            return;
        var context = AssemblyLoadContext.GetLoadContext(typeof(MlNetModelStore).Assembly) ?? AssemblyLoadContext.Default;
        context.Resolving += (_, name) => name.Name == LoaderAssemblyName ? Loaders.Value : null;
    }

    /// <summary>
    /// Writes one transformer into an ML.NET model: a version header naming its loader, the main stream
    /// (<paramref name="writeMain"/>) and the payload as one binary stream.
    /// </summary>
    internal static void Save(ModelSaveContext ctx, string modelSignature, string loaderSignature,
        Action<BinaryWriter> writeMain, Action<Stream> writePayload)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        Invoke(ctx, "SetVersionInfo", Version(modelSignature, loaderSignature));
        var writer = (BinaryWriter)RequiredField(typeof(ModelSaveContext), "Writer").GetValue(ctx)!;
        writeMain(writer);
        Action<BinaryWriter> payload = w =>
        {
            w.Flush();
            writePayload(w.BaseStream);
        };
        Invoke(ctx, "SaveBinaryStream", PayloadStreamName, payload);
    }

    /// <summary>The payload of a transformer that runs an ONNX file: the file's bytes, whole.</summary>
    internal static void CopyOnnx(BertOnnxModel model, Stream stream)
    {
        using var source = File.OpenRead(model.Path);
        source.CopyTo(stream);
    }

    /// <summary>
    /// Loads the ONNX payload <see cref="Load{T}"/> extracted to <paramref name="file"/> into a transformer that owns it:
    /// an ONNX Runtime session keeps reading from its file's path, so the file moves to a private temporary name that
    /// <paramref name="create"/> hands to the transformer, which deletes it when disposed. On failure the file is deleted.
    /// </summary>
    internal static T LoadOwnedOnnx<T>(string file, Func<BertOnnxModel, string, T> create)
    {
        string owned = Path.Combine(Path.GetTempPath(), $"mlnetbert-{Guid.NewGuid():N}.onnx");
        File.Move(file, owned);
        BertOnnxModel? model = null;
        try
        {
            model = BertOnnxModel.Load(owned);
            return create(model, owned);
        }
        catch
        {
            model?.Dispose();
            File.Delete(owned);
            throw;
        }
    }

    /// <summary>Reads what <see cref="Save"/> wrote: the main stream, then the payload as a file on disk.</summary>
    internal static T Load<T>(object ctx, string modelSignature, string loaderSignature, Func<BinaryReader, string, T> read)
    {
        var loadContext = RequiredType("Microsoft.ML.ModelLoadContext");
        if (!loadContext.IsInstanceOfType(ctx))
            throw new ArgumentException($"expected an ML.NET ModelLoadContext, got {ctx?.GetType().FullName ?? "null"}", nameof(ctx));
        Invoke(ctx, "CheckAtModel", Version(modelSignature, loaderSignature)); // ML.NET rejects other format versions
        var reader = (BinaryReader)RequiredField(loadContext, "Reader").GetValue(ctx)!;
        string file = Path.Combine(Path.GetTempPath(), $"mlnetbert-{Guid.NewGuid():N}.bin");
        try
        {
            Action<BinaryReader> copy = r =>
            {
                using var target = File.Create(file);
                r.BaseStream.CopyTo(target);
            };
            bool found = (bool)Invoke(ctx, "TryLoadBinaryStream", PayloadStreamName, copy)!;
            if (!found)
                throw new BadInputException($"the ML.NET model has no '{PayloadStreamName}' stream for its {loaderSignature}: the .zip is damaged");
            return read(reader, file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>The zip entry name of every MlNetBert transformer's payload inside an ML.NET model.</summary>
    internal const string PayloadStreamName = "MlNetBertModel.bin";

    /// <summary>The format of what <see cref="Save"/> writes; ML.NET's header check refuses any other on load.</summary>
    private const uint FormatVersion = 0x00010001;

    private static object Version(string modelSignature, string loaderSignature) =>
        Activator.CreateInstance(RequiredType("Microsoft.ML.VersionInfo"),
            modelSignature, FormatVersion, FormatVersion, FormatVersion, LoaderAssemblyName, loaderSignature, null)!;

    private static Type RequiredType(string name) =>
        MlCore.GetType(name, throwOnError: false) ?? throw Unsupported($"type {name}");

    private static FieldInfo RequiredField(Type type, string name) =>
        type.GetField(name, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic) ?? throw Unsupported($"field {type.Name}.{name}");

    private static object? Invoke(object target, string method, params object?[] args)
    {
        var m = target.GetType().GetMethod(method, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, args.Select(a => a!.GetType()).ToArray())
            ?? throw Unsupported($"method {target.GetType().Name}.{method}");
        try
        {
            return m.Invoke(target, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
            throw;
        }
    }

    private static NotSupportedException Unsupported(string what) => new(
        $"this version of ML.NET ({MlCore.GetName().Version}) lacks the {what} that MlNetBert uses to save into ML.NET model files; " +
        "MlNetBert is built against Microsoft.ML 5.0.1. Save with transformer.SaveTo(path) instead.");

    /// <summary>Called by the emitted loader when ML.NET reads a <see cref="BertTransformer"/>.</summary>
    internal static BertTransformer CreateBertTransformer(IHostEnvironment env, object ctx) => BertTransformer.LoadFrom(ctx);

    /// <summary>Called by the emitted loader when ML.NET reads a <see cref="BertOnnxTransformer"/>.</summary>
    internal static BertOnnxTransformer CreateBertOnnxTransformer(IHostEnvironment env, object ctx) => BertOnnxTransformer.LoadFrom(ctx);

    /// <summary>Called by the emitted loader when ML.NET reads a <see cref="BertSentenceEmbeddingTransformer"/>.</summary>
    internal static BertSentenceEmbeddingTransformer CreateBertSentenceEmbeddingTransformer(IHostEnvironment env, object ctx) => BertSentenceEmbeddingTransformer.LoadFrom(ctx);

    private static Assembly EmitLoaders()
    {
        var builder = new PersistedAssemblyBuilder(new AssemblyName(LoaderAssemblyName) { Version = new Version(1, 0, 0, 0) }, typeof(object).Assembly);
        var module = builder.DefineDynamicModule(LoaderAssemblyName);

        // The runtime lets an assembly reach the internals of those named by an attribute of this name: ML.NET's (the
        // attribute and the loader's parameter type) and MlNetBert's (the callbacks).
        var ignores = typeof(IgnoresAccessChecksToAttribute).GetConstructor([typeof(string)])!;
        builder.SetCustomAttribute(new CustomAttributeBuilder(ignores, [MlCore.GetName().Name!]));
        builder.SetCustomAttribute(new CustomAttributeBuilder(ignores, [typeof(MlNetModelStore).Assembly.GetName().Name!]));

        var loadContext = RequiredType("Microsoft.ML.ModelLoadContext");
        var signature = RequiredType("Microsoft.ML.SignatureLoadModel");
        var loadable = RequiredType("Microsoft.ML.LoadableClassAttribute");
        var loadableCtor = loadable.GetConstructor([typeof(Type), typeof(Type), typeof(Type), typeof(Type), typeof(string), typeof(string[])])
            ?? throw Unsupported("LoadableClassAttribute constructor");

        void Loader(Type instance, string typeName, string loaderSignature, string callback)
        {
            var type = module.DefineType("MlNetBert.MlNetLoaders." + typeName,
                TypeAttributes.Public | TypeAttributes.Abstract | TypeAttributes.Sealed | TypeAttributes.Class);
            var create = type.DefineMethod("Create", MethodAttributes.Public | MethodAttributes.Static | MethodAttributes.HideBySig,
                instance, [typeof(IHostEnvironment), loadContext]);
            var body = create.GetILGenerator();
            body.Emit(OpCodes.Ldarg_0);
            body.Emit(OpCodes.Ldarg_1);
            body.Emit(OpCodes.Call, typeof(MlNetModelStore).GetMethod(callback, BindingFlags.Static | BindingFlags.NonPublic)!);
            body.Emit(OpCodes.Ret);
            type.CreateType();
            builder.SetCustomAttribute(new CustomAttributeBuilder(loadableCtor,
                [instance, type, null, signature, instance.Name, new[] { loaderSignature }]));
        }

        Loader(typeof(BertTransformer), "BertTransformerLoader", BertTransformerSignature, nameof(CreateBertTransformer));
        Loader(typeof(BertOnnxTransformer), "BertOnnxTransformerLoader", BertOnnxTransformerSignature, nameof(CreateBertOnnxTransformer));
        Loader(typeof(BertSentenceEmbeddingTransformer), "BertSentenceEmbeddingTransformerLoader", BertSentenceEmbeddingSignature, nameof(CreateBertSentenceEmbeddingTransformer));

        using var image = new MemoryStream();
        builder.Save(image);
        image.Position = 0;
        var context = AssemblyLoadContext.GetLoadContext(typeof(MlNetModelStore).Assembly) ?? AssemblyLoadContext.Default;
        return context.LoadFromStream(image);
    }
}

