[assembly: Parallelize(Workers = 1, Scope = ExecutionScope.ClassLevel)]
