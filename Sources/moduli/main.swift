import ModuliCLI
ModuliCommand.main()
