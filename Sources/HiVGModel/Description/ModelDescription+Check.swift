import HiVGCore

extension ModelDescription {
    /// Checks that every described tensor is present with its shape; returns the names of `weights`
    /// the model does not know (neither described nor auxiliary), which are kept as they are.
    func check(_ weights: WeightGraph, file: String) throws -> [String] {
        let required = tensors
        for t in required {
            guard let found = weights[t.name] else {
                throw ModelError.missingTensor(file: file, tensor: t.name, detail: "required by the \(config.architecture) architecture")
            }
            if found.shape != t.shape { throw ModelError.wrongShape(file: file, tensor: t.name, expected: t.shape, found: found.shape) }
        }
        let needed = Set(required.map(\.name))
        return weights.names.filter { n in !needed.contains(n) && n != logitScale.name && !isAuxiliary(n) }
    }
}
