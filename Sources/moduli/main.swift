import Experiments
import ModuliCLI
ProcessSetup.prepareStandardStreams()
ProcessSetup.selectBLASKernels()
ProcessSetup.keepFreedMemory()
ProcessSetup.watchSweepParent()
ModuliCommand.main()
