// The diagram types: ordering by persistence, essential classes first.
import Testing
import Topology

@Suite struct PersistenceDiagramTests {
    @Test func pairsSortFromTheLongestWithEssentialClassesFirst() {
        let d = PersistenceDiagram(
            dimension: 1,
            pairs: [
                PersistencePair(birth: 0.5, death: 0.75), PersistencePair(birth: 0, death: nil),
                PersistencePair(birth: 0.25, death: 2), PersistencePair(birth: 0.5, death: 0.5)
            ])
        #expect(d.byPersistence.map(\.persistence) == [.infinity, 1.75, 0.25, 0])
        #expect(PersistencePair(birth: 1, death: nil).persistence == .infinity)
    }
}
