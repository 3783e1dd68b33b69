// A parameter store as safetensors tensors: its values under their PyTorch names, and loading
// such tensors back by name. The format itself is `SafeTensors` (Formats).
import Foundation
import Formats
import Linalg

extension ParameterStore {
    /// Every tensor's values under its PyTorch name (a `state_dict`).
    public func namedValues() -> [NamedTensor] {
        slots.map { s in
            NamedTensor(
                name: info(s).name, shape: info(s).shape,
                scalars: UnsafeBufferPointer(start: value(s), count: info(s).count).map(Double.init))
        }
    }

    /// Loads values by name; every tensor of the store must be present with the same shape.
    public func load(_ tensors: [NamedTensor]) throws {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for s in slots {
            let i = info(s)
            guard let t = byName[i.name] else { throw SafeTensorsError(description: "The file has no tensor \(i.name)") }
            guard t.shape == i.shape else {
                throw SafeTensorsError(description: "Tensor \(i.name) has shape \(t.shape) in the file, \(i.shape) in the model")
            }
            let p = value(s)
            for k in 0..<i.count { p[k] = Scalar(t.scalars[k]) }
            valuesDidChange(s)
        }
    }
}
