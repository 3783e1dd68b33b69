// Parameter groups: tensors with a weight decay of their own (learned neuron positions get none).
import Testing
import Linalg
import NN

@Suite struct ParameterGroupTests {
    /// Two tensors with fixed values and zero gradients (weight decay is then the whole update).
    static func store() -> (ParameterStore<Float>, ParameterSlot, ParameterSlot) {
        let store = ParameterStore<Float>()
        var k: Float = 0
        let a = store.add("a", shape: [3, 5]) {
            k += 0.25; return k
        }
        let b = store.add("b", shape: [11]) {
            k -= 0.5; return k
        }
        return (store, a, b)
    }

    @Test func aGroupWithoutDecayIsLeftAloneWhileTheRestDecays() {
        let lr = 0.1, wd = 0.2
        for kind in ["adamw", "adam", "sgd"] {
            let (store, a, b) = Self.store()
            let before = store.matrix(b).scalars, beforeA = store.matrix(a).scalars
            let groups = [ParameterGroup(slots: [b], weightDecay: 0)]
            switch kind {
            case "adamw": var o = Adam<Float>.adamW(learningRate: lr, weightDecay: wd); o.parameterGroups = groups; o.step(store)
            case "adam": var o = Adam<Float>(learningRate: lr, weightDecay: wd); o.parameterGroups = groups; o.step(store)
            default: var o = SGD<Float>(learningRate: lr, weightDecay: wd); o.parameterGroups = groups; o.step(store)
            }
            #expect(store.matrix(b).scalars == before, "\(kind): the group without decay moved")
            let after = store.matrix(a).scalars
            for (x, y) in zip(beforeA, after) {
                switch kind {
                case "adamw": #expect(y == x * Float(1 - lr * wd), "\(kind)")
                case "sgd": #expect(abs(y - (x - Float(lr * wd) * x)) <= 1e-7, "\(kind)")
                default: #expect(abs(y - (x - Float(lr) * (x > 0 ? 1 : -1))) <= 1e-5, "\(kind): Adam's first step moves by lr")
                }
            }
        }
    }

    @Test func noGroupsAndAGroupWithTheDefaultDecayAreTheSame() {
        let (s1, a, b) = Self.store(), (s2, _, _) = Self.store()
        for s in [s1, s2] { for i in 0..<s.totalCount { s.gradients[i] = Float(i % 7) - 3 } }
        var plain = Adam<Float>.adamW(learningRate: 0.01, weightDecay: 0.05)
        var grouped = plain
        grouped.parameterGroups = [ParameterGroup(slots: [a, b], weightDecay: 0.05)]
        plain.step(s1); grouped.step(s2)
        #expect(Array(s1.values) == Array(s2.values))
    }
}
