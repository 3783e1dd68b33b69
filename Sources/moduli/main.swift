import Experiments
import ModuliCLI
ProcessSetup.prepareStandardStreams()
ProcessSetup.keepFreedMemory()
ModuliCommand.main()
