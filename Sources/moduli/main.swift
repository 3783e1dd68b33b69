import Experiments
import ModuliCLI
ProcessSetup.prepareStandardStreams()
ProcessSetup.selectBLASKernels()
ProcessSetup.keepFreedMemory()
ModuliCommand.main()
