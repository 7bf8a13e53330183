namespace System.Runtime.CompilerServices;

/// <summary>
/// The runtime reads this attribute by its full name: an assembly carrying it may use the internals of the named
/// assembly. MlNetBert puts it only on the small loader assembly that <see cref="MlNetBert.MlNet.MlNetModelStore"/>
/// emits in memory.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
internal sealed class IgnoresAccessChecksToAttribute(string assemblyName) : Attribute
{
    public string AssemblyName { get; } = assemblyName;
}
